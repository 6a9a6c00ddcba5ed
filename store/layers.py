"""Layer records: `<root>/layers/<id>.json`, one per layer the driver holds for images.

A layer's ID is its OCI chain ID, so the same changes on the same parent are
stored once. A layer being created or deleted has a `<id>.incomplete` marker
and its lock file held exclusively; a marker whose lock is free belongs to a
process that died and is rolled back by the next bb.
"""

from __future__ import annotations

import builtins
import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from bb.errors import LayerNotFound
from bb.store.blobs import split_digest
from bb.system.atomic import read_json, remove_file, write_atomic, write_json_atomic
from bb.system.digests import sha256
from bb.system.locks import FileLock

if TYPE_CHECKING:
    from bb.store.store import Store


@dataclass
class LayerRecord:
    """One image layer: its chain ID, parent, uncompressed digest and size."""

    id: str
    parent: str | None
    diff_id: str
    size: int
    created: str


def chain_id(parent_id: str | None, diff_id: str) -> str:
    """The OCI chain ID (as hex) of a layer with `diff_id` on `parent_id`."""
    if parent_id is None:
        return split_digest(diff_id)[1]
    return sha256(f"sha256:{parent_id} {diff_id}".encode()).hexdigest()


class LayerStore:
    """The layer records of one store."""

    def __init__(self, store: Store):
        self.store = store
        self.directory = os.path.join(store.root, "layers")
        os.makedirs(self.directory, mode=0o700, exist_ok=True)

    def _record_path(self, layer_id: str) -> str:
        return os.path.join(self.directory, layer_id + ".json")

    def _marker_path(self, layer_id: str) -> str:
        return os.path.join(self.directory, layer_id + ".incomplete")

    def lock_path(self, layer_id: str) -> str:
        """The lock file creators, deleters and pinners of the layer use."""
        return os.path.join(self.store.locks_dir, f"layer-{layer_id}.lock")

    def exists(self, layer_id: str) -> bool:
        """Whether the layer is complete."""
        return os.path.exists(self._record_path(layer_id)) and not os.path.exists(
            self._marker_path(layer_id)
        )

    def get(self, layer_id: str) -> LayerRecord:
        """The record of a complete layer."""
        if not self.exists(layer_id):
            raise LayerNotFound(layer_id)
        return LayerRecord(**read_json(self._record_path(layer_id)))

    def list(self) -> list[LayerRecord]:
        """Every complete layer."""
        names = os.listdir(self.directory)
        markers = {name[: -len(".incomplete")] for name in names if name.endswith(".incomplete")}
        ids = [name[: -len(".json")] for name in names if name.endswith(".json")]
        return [self.get(layer_id) for layer_id in ids if layer_id not in markers]

    def incomplete(self) -> builtins.list[str]:
        """IDs of layers whose creation or deletion has not finished."""
        return [
            name[: -len(".incomplete")]
            for name in os.listdir(self.directory)
            if name.endswith(".incomplete")
        ]

    def chain(self, top_id: str | None) -> builtins.list[LayerRecord]:
        """The layers from the bottom up to `top_id`."""
        chain = []
        layer_id = top_id
        while layer_id is not None:
            record = self.get(layer_id)
            chain.append(record)
            layer_id = record.parent
        chain.reverse()
        return chain

    def ensure_from_blob(
        self,
        parent_id: str | None,
        diff_id: str,
        size: int,
        created: str,
        reuse_files_from: str | None = None,
    ) -> LayerRecord:
        """The layer for `diff_id` (a stored blob) on `parent_id`, created unless it exists.

        `reuse_files_from`: the tree the blob was just written from, about to be deleted (see
        extract_tar).

        Call it inside `Store.content_in_flight()`, which keeps garbage
        collection away until the caller has recorded a reference to it.
        """
        layer_id = chain_id(parent_id, diff_id)
        if self.exists(layer_id):
            return self.get(layer_id)
        with FileLock(self.lock_path(layer_id)):
            if not self.exists(layer_id):
                self._create(layer_id, parent_id, diff_id, size, created, reuse_files_from)
        return self.get(layer_id)

    def _create(
        self,
        layer_id: str,
        parent_id: str | None,
        diff_id: str,
        size: int,
        created: str,
        reuse_files_from: str | None,
    ) -> None:
        """Build the layer in the driver; the caller holds its lock exclusively."""
        driver = self.store.driver
        write_atomic(self._marker_path(layer_id), b"")
        try:
            driver.remove(layer_id)
            driver.create(layer_id, parent_id)
            with self.store.blobs.open(diff_id) as layer_tar:
                driver.apply_diff(layer_id, parent_id, layer_tar, reuse_files_from)
            record = LayerRecord(layer_id, parent_id, diff_id, size, created)
            write_json_atomic(self._record_path(layer_id), asdict(record))
        except BaseException:
            self._delete(layer_id)
            raise
        remove_file(self._marker_path(layer_id))

    def _delete(self, layer_id: str) -> None:
        """Remove the layer from driver and records; the caller holds its lock exclusively."""
        write_atomic(self._marker_path(layer_id), b"")
        self.store.driver.remove(layer_id)
        remove_file(self._record_path(layer_id))
        remove_file(self._marker_path(layer_id))

    def delete_if_unused(self, layer_id: str) -> bool:
        """Delete the layer unless a process is creating it; return whether it was deleted."""
        lock = FileLock(self.lock_path(layer_id))
        if not lock.acquire(blocking=False):
            return False
        try:
            self._delete(layer_id)
        finally:
            lock.release()
        return True
