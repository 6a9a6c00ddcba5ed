"""Manifest lists being assembled (`bb manifest`): `<root>/manifest-lists/<sha256 of name>.json`."""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from bb.errors import InvalidArgument, NameInUse, NotFound
from bb.image.platform import Platform
from bb.store.images import ImageRecord, normalize_name
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

    @property
    def platform(self) -> Platform:
        """The platform the entry is for."""
        return Platform.of(self.os, self.architecture, self.variant)

    def platform_document(self) -> dict[str, Any]:
        """The entry's platform as an index descriptor's `platform` object."""
        document: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            document["variant"] = self.variant
        if self.os_features:
            document["os.features"] = self.os_features
        return document


@dataclass
class ManifestList:
    """A named list of images for several platforms."""

    name: str
    entries: list[ListEntry] = field(default_factory=list)

    def put(self, entry: ListEntry) -> None:
        """Add an entry, replacing one of the same image or (as buildah's `--manifest` does when
        a platform is built again) of the same platform."""
        self.entries = [
            e for e in self.entries if e.image_id != entry.image_id and e.platform != entry.platform
        ] + [entry]


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
        return self._parsed(document)

    @staticmethod
    def _parsed(document: dict[str, Any]) -> ManifestList:
        return ManifestList(document["name"], [ListEntry(**entry) for entry in document["entries"]])

    def find(self, name: str) -> ManifestList | None:
        """The list called `name`, if there is one (None also for a name that is no reference)."""
        try:
            return self.get(name)
        except (NotFound, InvalidArgument):
            return None

    def lists(self) -> list[ManifestList]:
        """Every list."""
        found = []
        for file_name in sorted(os.listdir(self.directory)):
            if file_name.endswith(".json"):
                document = read_json(os.path.join(self.directory, file_name))
                found.append(self._parsed(document))
        return found

    def entry_for(self, record: ImageRecord) -> ListEntry:
        """An entry for a stored image, for the platform its config says."""
        config = self.store.images.config(record)
        return ListEntry(
            record.id,
            config.get("architecture", ""),
            config.get("os", "linux"),
            config.get("variant", ""),
        )

    def image_for(self, name: str, platform: Platform) -> ImageRecord | None:
        """The image the list called `name` holds for `platform` (the first that fits), if any."""
        manifest_list = self.find(name)
        for entry in manifest_list.entries if manifest_list else []:
            if platform.matches(entry.platform_document()):
                return self.store.images.find(entry.image_id)
        return None

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
