"""The index of `bb build --layers`: one small file per step key under `<root>/build-cache/`.

Each file holds the ID of the image committed for that step (the keys are made by
`bb.dockerfile_executor.cache_keys`). Garbage collection drops the entries of
images no longer stored.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from bb.errors import ImageNotFound
from bb.system.atomic import remove_file, write_atomic

if TYPE_CHECKING:
    from bb.store.store import Store


class BuildCache:
    """Maps step keys to the images committed for them."""

    def __init__(self, store: Store):
        self.store = store
        self.directory = store.build_cache_dir
        os.makedirs(self.directory, mode=0o700, exist_ok=True)

    def lookup(self, key: str) -> str | None:
        """The image ID cached for `key`, if that image still exists."""
        try:
            with open(os.path.join(self.directory, key), encoding="ascii") as entry:
                image_id = entry.read().strip()
        except FileNotFoundError:
            return None
        try:
            return self.store.images.get(image_id).id
        except ImageNotFound:
            return None

    def remember(self, key: str, image_id: str) -> None:
        """Record the image committed for `key` (if still stored)."""
        # under the store lock: garbage collection prunes entries under it too
        with self.store.lock():
            try:
                self.store.images.get(image_id)
            except ImageNotFound:
                return
            write_atomic(os.path.join(self.directory, key), image_id.encode())


def prune_build_cache(directory: str, image_ids: set[str]) -> None:
    """Remove the entries (and dead writers' temp files) that name no image in `image_ids`.

    Call under the store lock, which every writer holds.
    """
    if not os.path.isdir(directory):
        return
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        try:
            with open(path, encoding="ascii") as entry:
                image_id = entry.read(200).strip()
        except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
            image_id = ""
        if image_id not in image_ids:
            remove_file(path)
