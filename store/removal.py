"""Removing images and containers (`bb rmi`, `bb rm`), then collecting what nothing uses."""

from __future__ import annotations

from typing import NamedTuple

from bb.errors import ImageNotFound, InUse, InvalidArgument
from bb.store.images import ImageRecord, normalize_name
from bb.store.store import Store


class Removal(NamedTuple):
    """One thing an image removal did: one of the image's names untagged, or the image deleted."""

    image_id: str
    untagged: str | None = None


def _users_of(store: Store, record: ImageRecord) -> list[str]:
    """Names of containers started from the image."""
    return [
        container.name for container in store.containers.list() if container.image_id == record.id
    ]


def remove_images(store: Store, names: list[str], force: bool = False) -> list[Removal]:
    """Untag or delete each named image; return what happened, in order.

    A name that is one of several tags only untags; an ID, or an image's last
    name, deletes the image, which a container still uses only with `force`
    (which removes the containers too).
    """
    report: list[Removal] = []
    for name in names:
        record = store.images.lookup(name)
        try:
            tag = normalize_name(name)
        except InvalidArgument:
            tag = None
        with store.lock():
            record = store.images.get(record.id)
            if tag in record.names and len(record.names) > 1:
                store.images.remove_name(record, tag)
                report.append(Removal(record.id, tag))
                continue
            users = _users_of(store, record)
            if users and not force:
                raise InUse(
                    f'image "{name}" is in use by container(s) {", ".join(users)} (use --force)'
                )
        for container in store.containers.list():
            if container.image_id == record.id:
                store.containers.remove(container)
        with store.lock():
            report.extend(Removal(record.id, tag_name) for tag_name in record.names)
            store.images.remove(record)
        report.append(Removal(record.id))
    store.collect_garbage()
    return report


def remove_all_images(store: Store, force: bool = False) -> list[Removal]:
    """`bb rmi -a`: every image."""
    return remove_images(store, [record.id for record in store.images.list()], force)


def prune_images(store: Store) -> list[Removal]:
    """`bb rmi -p`: images with no name that no container or manifest list uses (after running
    builds end; `bb build --manifest` gives its images no name)."""
    from bb.store.manifest_lists import ManifestListStore

    report: list[Removal] = []
    with store.builds_running(shared=False):
        with store.lock():
            listed_ids = {
                entry.image_id
                for manifest_list in ManifestListStore(store).lists()
                for entry in manifest_list.entries
            }
        for listed in store.images.list():
            if listed.id in listed_ids:
                continue
            with store.lock():  # looked at again: it may have been named or used since the listing
                try:
                    record = store.images.get(listed.id)
                except ImageNotFound:
                    continue
                if record.names or _users_of(store, record):
                    continue
                store.images.remove(record)
            report.append(Removal(record.id))
    store.collect_garbage()
    return report


def tag_image(store: Store, name_or_id: str, new_names: list[str]) -> ImageRecord:
    """`bb tag`: add names to an image (moving them from others)."""
    names = [normalize_name(name) for name in new_names]
    with store.lock():
        record = store.images.get(store.images.lookup(name_or_id).id)
        store.images.add_names(record, names)
    return record
