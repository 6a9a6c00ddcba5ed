"""Manifest lists being assembled (`bb manifest`): `<root>/manifest-lists/<sha256 of name>.json`."""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field

from bb.errors import NameInUse, NotFound
from bb.store.images import normalize_name
from bb.store.store import Store
from bb.system.atomic import read_json, remove_file, write_json_atomic


@dataclass
class ListEntry:
    """One image of a list, with the platform it is for."""

    image_id: str
    architecture: str
    os: str
    variant: str = ""
    os_features: list[str] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)

    def set_platform(
        self, architecture: str | None, os: str | None, variant: str | None, os_features: list[str]
    ) -> None:
        """Override the platform fields that are given."""
        self.architecture = architecture or self.architecture
        self.os = os or self.os
        self.variant = variant or self.variant
        self.os_features = list(os_features) or self.os_features


@dataclass
class ManifestList:
    """A named list of images for several platforms."""

    name: str
    entries: list[ListEntry] = field(default_factory=list)


class ManifestListStore:
    """The manifest lists of one store (written under the store lock)."""

    def __init__(self, store: Store):
        self.store = store
        self.directory = os.path.join(store.root, "manifest-lists")
        os.makedirs(self.directory, mode=0o700, exist_ok=True)

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, hashlib.sha256(name.encode()).hexdigest() + ".json")

    def get(self, name: str) -> ManifestList:
        """The list called `name`."""
        qualified = normalize_name(name)
        try:
            document = read_json(self._path(qualified))
        except FileNotFoundError:
            raise NotFound(f'manifest list "{name}" not known') from None
        return ManifestList(document["name"], [ListEntry(**entry) for entry in document["entries"]])

    def create(self, name: str) -> ManifestList:
        """A new, empty list."""
        qualified = normalize_name(name)
        if os.path.exists(self._path(qualified)):
            raise NameInUse(f'manifest list "{name}" already exists')
        manifest_list = ManifestList(qualified)
        self.save(manifest_list)
        return manifest_list

    def save(self, manifest_list: ManifestList) -> None:
        """Write a list."""
        write_json_atomic(self._path(manifest_list.name), asdict(manifest_list))

    def remove(self, name: str) -> None:
        """Delete a list (its images stay)."""
        self.get(name)
        remove_file(self._path(normalize_name(name)))
