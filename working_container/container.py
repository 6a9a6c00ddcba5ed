"""The working container: a writable layer on an image plus the image config being edited.

Its state lives in the store's container record (`builder` document, tagged
with a type and version); every operation holds the container's lock, so two
bb processes never change one container at once.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from bb.errors import BBError, ImageNotFound, InvalidArgument, NotFound
from bb.image.config import new_image_config, timestamp_now
from bb.image.platform import Platform
from bb.image.reference import parse_reference
from bb.store.containers import ContainerRecord, check_container_name
from bb.store.images import ImageRecord
from bb.store.store import Store

if TYPE_CHECKING:
    from bb.transports.base import TransportOptions

BUILDER_TYPE = "bb-working-container"
BUILDER_VERSION = 1
SCRATCH = "scratch"
# newer: pull, and use the image in the store if that fails (containers/common's PullPolicyNewer)
PULL_POLICIES = ("always", "missing", "never", "newer")


class WorkingContainer:
    """A container being built; get one from `create` or `opened`."""

    def __init__(self, store: Store, record: ContainerRecord):
        self.store = store
        self.record = record

    @property
    def id(self) -> str:
        """The container's ID (also its layer's ID in the driver)."""
        return self.record.id

    @property
    def name(self) -> str:
        """The container's name."""
        return self.record.name

    @property
    def image_config(self) -> dict[str, Any]:
        """The whole image config document the next commit starts from."""
        return self.record.builder["image_config"]

    @property
    def config(self) -> dict[str, Any]:
        """The runtime part of the image config (Env, Cmd, WorkingDir, ...), edited in place."""
        return self.image_config.setdefault("config", {})

    @property
    def pending_history(self) -> list[dict[str, Any]]:
        """Steps taken since the base image, for the next commit's history."""
        return self.record.builder.setdefault("pending_history", [])

    @property
    def manifest_annotations(self) -> dict[str, str]:
        """Annotations for the next commit's manifest."""
        return self.record.builder.setdefault("annotations", {})

    def add_history(self, created_by: str, empty_layer: bool = False) -> None:
        """Record one step for the history of the next commit."""
        self.pending_history.append({"created_by": created_by, "empty_layer": empty_layer})

    def save(self) -> None:
        """Persist the container's state."""
        self.store.containers.save(self.record)

    def mounted(self) -> contextlib.AbstractContextManager[str]:
        """The container's root file system, mounted for the block."""
        return self.store.mounted(self.record)

    def describe(self) -> dict[str, Any]:
        """What `bb inspect` shows of the container."""
        mounted = self.store.driver.is_mounted(self.id) and self.store.user_mounted(self.id)
        return {
            "Type": BUILDER_TYPE,
            "Version": BUILDER_VERSION,
            "ContainerID": self.id,
            "Container": self.name,
            "FromImage": self.record.image_name or SCRATCH,
            "FromImageID": self.record.image_id or "",
            "Created": self.record.created,
            "MountPoint": self.store.driver.mount(self.id) if mounted else "",
            "Config": self.config,
            "OCIv1": self.image_config,
            "History": self.pending_history,
            "ManifestAnnotations": self.manifest_annotations,
        }

    def mount_for_user(self) -> str:
        """`bb mount`: mount the root and keep it mounted after bb exits."""
        path = self.store.driver.mount(self.id)
        self.store.hold_user_mount(self.id)
        return path

    def unmount_for_user(self) -> None:
        """`bb umount`: release what `bb mount` held."""
        self.store.release_user_mount(self.id)
        self.store.driver.unmount(self.id)

    @classmethod
    def create(
        cls,
        store: Store,
        image: str,
        name: str | None = None,
        pull: str = "missing",
        options: TransportOptions | None = None,
        platform: Platform | None = None,
    ) -> WorkingContainer:
        """Start a container from `image` (or `scratch`), named `name` or after the image; with
        `platform`, the image must be that platform's (chosen from a list, pulled for it)."""
        if pull not in PULL_POLICIES:
            raise InvalidArgument(f'--pull "{pull}": must be one of {", ".join(PULL_POLICIES)}')
        if name is not None:
            check_container_name(name)
        pulled = _base_image(store, image, pull, options, platform)
        with store.content_in_flight():
            with store.lock():
                image_record, image_config = pulled
                if image_record is not None:
                    image_record = store.images.get(
                        image_record.id
                    )  # still there, and now safe from collection
                base_name = (
                    SCRATCH if image_record is None else _short_image_name(image, image_record)
                )
                container_name = name or store.containers.unique_name(
                    "working-container"
                    if image_record is None
                    else f"{base_name}-working-container"
                )
                builder = {
                    "type": BUILDER_TYPE,
                    "version": BUILDER_VERSION,
                    "image_config": image_config,
                    "pending_history": [],
                    "annotations": {},
                }
                record, lock = store.containers.begin_create(
                    container_name,
                    image_record.id if image_record else None,
                    image if image_record else None,
                    image_record.top_layer if image_record else None,
                    timestamp_now(),
                    builder,
                )
            try:
                store.driver.create(record.id, record.parent_layer, writable=True)
                store.containers.finish_create(record)
            except BaseException:
                store.containers.delete_unlocked(record.id)
                raise
            finally:
                lock.release()
        return cls(store, record)

    @classmethod
    @contextlib.contextmanager
    def opened(cls, store: Store, name_or_id: str) -> Iterator[WorkingContainer]:
        """The container, locked against other bb processes for the block."""
        record = store.containers.get(name_or_id)
        lock = store.containers.lock(record)
        try:
            lock.acquire()
        except FileNotFoundError:
            raise BBError(f'container "{name_or_id}" was removed meanwhile') from None
        try:
            record = store.containers.get(record.id)
            builder = record.builder
            if builder.get("type") != BUILDER_TYPE or builder.get("version") != BUILDER_VERSION:
                raise BBError(f'container "{record.name}" was not created by this version of bb')
            yield cls(store, record)
        finally:
            lock.release()


def fits(store: Store, record: ImageRecord, platform: Platform | None) -> bool:
    """Whether the image is `platform`'s (any image is, when no platform is asked for)."""
    return platform is None or platform.matches(store.images.config(record))


def _base_image(
    store: Store,
    image: str,
    pull: str,
    options: TransportOptions | None,
    platform: Platform | None,
) -> tuple[ImageRecord | None, dict[str, Any]]:
    """The image record and a copy of its config, or (None, empty config) for scratch."""
    if image == SCRATCH:
        return None, new_image_config(platform)
    record = find_image(store, image, pull, options, platform)
    return record, copy.deepcopy(store.images.config(record))


def find_image(
    store: Store,
    image: str,
    pull: str,
    options: TransportOptions | None = None,
    platform: Platform | None = None,
) -> ImageRecord:
    """The stored image `image` names (a name, an ID or a transport location), pulled or read in
    as `pull` says. A local image of another platform than `platform` counts as missing, as in
    buildah; if pulling does not give one that fits, it is refused."""
    from bb.transports import import_image, split_transport
    from bb.transports.base import TransportOptions

    options = dataclasses.replace(options or TransportOptions(), platform=platform)
    record: ImageRecord | None
    if split_transport(image) is not None:
        record = import_image(store, image, options)
    else:
        local = _local_image(store, image, platform)
        fitting = local if local is not None and fits(store, local, platform) else None
        unfit = (
            f'image "{image}" is for {_platform_of(store, local)}, not {platform}'
            if local is not None and fitting is None
            else None
        )
        record = None if pull in ("always", "newer") else fitting
        if record is None and pull != "never":
            try:
                record = pull_by_name(store, image, options, unfit)
            except BBError:
                # --pull=true: a failed pull falls back to the stored image
                if pull != "newer" or fitting is None:
                    raise
            record = record or (fitting if pull == "newer" else None)
        if record is None and unfit:
            raise InvalidArgument(unfit)
    if record is None:
        raise ImageNotFound(image)
    if not fits(store, record, platform):
        raise InvalidArgument(
            f'image "{image}" is for {_platform_of(store, record)}, not {platform}'
        )
    return record


def _platform_of(store: Store, record: ImageRecord) -> Platform:
    return Platform.of_document(store.images.config(record))


def _local_image(store: Store, image: str, platform: Platform | None) -> ImageRecord | None:
    """The stored image of that name or ID, or the image for `platform` (default: this machine's)
    in the local manifest list of that name."""
    record = store.images.find(image)
    if record is None:
        from bb.store.manifest_lists import ManifestListStore

        record = ManifestListStore(store).image_for(image, platform or Platform.host())
    return record


def pull_by_name(
    store: Store, image: str, options: TransportOptions | None, why: str | None = None
) -> ImageRecord:
    """Pull a name from its registry, a short name as registries.toml says (its alias, or the
    search registries in order, as short-name-mode allows); failing, say `why` it was pulled."""
    from bb.image.reference import is_qualified
    from bb.transports import import_image
    from bb.transports.registries_config import load_registries_config

    why = why or f'image "{image}" not known'
    config = load_registries_config()
    candidates = [image] if is_qualified(image) else config.short_name_candidates(image)
    if not candidates:
        raise NotFound(
            f"{why}, and {config.path} names no unqualified-search-registries to pull it from"
        )
    failures = []
    for candidate in candidates:
        try:
            return import_image(store, f"docker://{candidate}", options)
        except BBError as failure:
            failures.append(str(failure))
    raise NotFound(f"{why}, and pulling it failed: {'; '.join(failures)}")


def _short_image_name(requested: str, record: ImageRecord) -> str:
    """The image's last path component, for naming the container after it."""
    by_id = record.id.startswith(requested.removeprefix("sha256:"))
    for candidate in [*record.names] if by_id else [requested, *record.names]:
        try:
            return parse_reference(candidate).repository.rsplit("/", 1)[-1]
        except InvalidArgument:
            continue
    return "image"
