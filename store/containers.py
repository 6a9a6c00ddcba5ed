"""Working-container records: `<root>/containers/<id>/container.json`.

The record holds what the store needs (name, image, parent layer); the step
engine keeps its own state in the record's `builder` document. A container's
writable layer in the driver has the container's ID. Operations on a
container hold `<id>/lock`; `<id>/incomplete` marks a creation or removal in
progress, rolled back by the next bb if its process died.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from bb.errors import ContainerNotFound, DriverError, InUse, InvalidArgument, NameInUse
from bb.system.atomic import read_json, remove_file, write_atomic, write_json_atomic
from bb.system.locks import FileLock

if TYPE_CHECKING:
    from bb.store.store import Store

MIN_ID_PREFIX = 3


@dataclass
class ContainerRecord:
    """One working container."""

    id: str
    name: str
    image_id: str | None
    image_name: str | None
    parent_layer: str | None
    created: str
    builder: dict[str, Any] = field(default_factory=dict)


def check_container_name(name: str) -> str:
    """Container names follow Docker's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]*."""
    if (
        not name
        or not (name[0].isascii() and name[0].isalnum())
        or not all(c.isascii() and (c.isalnum() or c in "_.-") for c in name)
    ):
        raise InvalidArgument(
            f'invalid container name "{name}": must match [a-zA-Z0-9][a-zA-Z0-9_.-]*'
        )
    return name


class ContainerStore:
    """The working-container records of one store."""

    def __init__(self, store: Store):
        self.store = store
        self.directory = os.path.join(store.root, "containers")
        os.makedirs(self.directory, mode=0o700, exist_ok=True)

    def _dir(self, container_id: str) -> str:
        return os.path.join(self.directory, container_id)

    def _record_path(self, container_id: str) -> str:
        return os.path.join(self._dir(container_id), "container.json")

    def _marker_path(self, container_id: str) -> str:
        return os.path.join(self._dir(container_id), "incomplete")

    def lock(self, record: ContainerRecord) -> FileLock:
        """The lock every operation on the container holds."""
        return FileLock(os.path.join(self._dir(record.id), "lock"))

    def all_records(self) -> list[ContainerRecord]:
        """Every container record, complete or not (what garbage collection must respect)."""
        records = []
        for container_id in os.listdir(self.directory):
            try:
                records.append(ContainerRecord(**read_json(self._record_path(container_id))))
            except (FileNotFoundError, NotADirectoryError):
                continue
        return records

    def list(self) -> list[ContainerRecord]:
        """Every complete container, oldest first."""
        records = [r for r in self.all_records() if not os.path.exists(self._marker_path(r.id))]
        records.sort(key=lambda record: record.created)
        return records

    def incomplete(self) -> builtins.list[str]:
        """IDs of containers whose creation or removal has not finished."""
        return [cid for cid in os.listdir(self.directory) if os.path.exists(self._marker_path(cid))]

    def find(self, name_or_id: str) -> ContainerRecord | None:
        """The container with this name, ID or unique ID prefix, if any."""
        records = self.list()
        for record in records:
            if name_or_id in (record.name, record.id):
                return record
        if len(name_or_id) >= MIN_ID_PREFIX:
            matches = [record for record in records if record.id.startswith(name_or_id)]
            if len(matches) == 1:
                return matches[0]
        return None

    def get(self, name_or_id: str) -> ContainerRecord:
        """Like find(), but an unknown container is an error naming it."""
        record = self.find(name_or_id)
        if record is None:
            raise ContainerNotFound(name_or_id)
        return record

    def name_taken(self, name: str) -> bool:
        """Whether any container (even one being created) has this name."""
        return any(record.name == name for record in self.all_records())

    def unique_name(self, base: str) -> str:
        """`base`, or `base-N` with the first N that is free."""
        names = {record.name for record in self.all_records()}
        if base not in names:
            return base
        number = 1
        while f"{base}-{number}" in names:
            number += 1
        return f"{base}-{number}"

    def begin_create(
        self,
        name: str,
        image_id: str | None,
        image_name: str | None,
        parent_layer: str | None,
        created: str,
        builder: dict[str, Any],
    ) -> tuple[ContainerRecord, FileLock]:
        """Write the record of a container being created, returned with its lock held.

        The caller holds the store lock, creates the layer, calls finish_create
        and releases the lock; if it dies first, the next bb rolls it back.
        """
        if self.name_taken(name):
            raise NameInUse(f'the container name "{name}" is already in use')
        record = ContainerRecord(
            os.urandom(32).hex(), name, image_id, image_name, parent_layer, created, builder
        )
        os.mkdir(self._dir(record.id), 0o700)
        lock = self.lock(record)
        lock.acquire()
        write_atomic(self._marker_path(record.id), b"")
        self.save(record)
        return record, lock

    def finish_create(self, record: ContainerRecord) -> None:
        """Mark a container complete once its layer exists."""
        remove_file(self._marker_path(record.id))

    def begin_removal(self, container_id: str) -> None:
        """Mark a container as being removed, for the next bb to finish should this process die."""
        write_atomic(self._marker_path(container_id), b"")

    @contextlib.contextmanager
    def removal_begun(self, container_id: str) -> Iterator[None]:
        """Mark the container as being removed for the block; should the block fail, keep it."""
        self.begin_removal(container_id)
        try:
            yield
        except BaseException:
            remove_file(self._marker_path(container_id))
            raise

    def save(self, record: ContainerRecord) -> None:
        """Write the container's record."""
        write_json_atomic(self._record_path(record.id), asdict(record))

    def remove(self, record: ContainerRecord, lock_held: bool = False) -> None:
        """Delete the container and its layer; refuse while another process uses it."""
        lock = self.lock(record)
        if not lock_held and not lock.acquire(blocking=False):
            raise InUse(f'container "{record.name}" is in use by another bb process')
        try:
            self.delete_unlocked(record.id)
        finally:
            if not lock_held:
                lock.release()

    def delete_if_abandoned(self, container_id: str) -> None:
        """Finish removing (or roll back creating) a container whose bb process died."""
        lock = FileLock(os.path.join(self._dir(container_id), "lock"))
        try:
            acquired = lock.acquire(blocking=False)
        except FileNotFoundError:
            return
        if acquired:
            try:
                if os.path.exists(self._marker_path(container_id)):
                    # a device still busy fails again next time; it must not fail this command
                    with contextlib.suppress(DriverError):
                        self.delete_unlocked(container_id)
            finally:
                lock.release()

    def delete_unlocked(self, container_id: str) -> None:
        """Remove a container's layer, mount marker and directory (the caller holds its lock)."""
        self.begin_removal(container_id)
        self.store.release_user_mount(container_id)
        self.store.driver.remove(container_id)
        shutil.rmtree(self._dir(container_id), ignore_errors=True)
