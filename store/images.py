"""Image records: `<root>/images/<id>.json`; an image's ID is its config's sha256."""

from __future__ import annotations

import builtins
import json
import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from bb.errors import ImageNotFound, InvalidArgument
from bb.image.reference import DOCKER_HUB, LOCAL_REGISTRY, is_qualified, parse_reference
from bb.system.atomic import read_json, remove_file, write_json_atomic

if TYPE_CHECKING:
    from bb.store.store import Store

MIN_ID_PREFIX = 3


@dataclass
class ImageRecord:
    """One image: its names, layers (chain IDs, bottom first) and its config and manifest blobs."""

    id: str
    names: list[str]
    layers: list[str]
    manifest_digest: str
    manifest_media_type: str
    created: str
    size: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def config_digest(self) -> str:
        """The config blob's digest (the image ID with its algorithm)."""
        return "sha256:" + self.id

    @property
    def top_layer(self) -> str | None:
        """The layer a container of this image starts on."""
        return self.layers[-1] if self.layers else None


class ImageStore:
    """The image records of one store."""

    def __init__(self, store: Store):
        self.store = store
        self.directory = os.path.join(store.root, "images")
        os.makedirs(self.directory, mode=0o700, exist_ok=True)

    def _record_path(self, image_id: str) -> str:
        return os.path.join(self.directory, image_id + ".json")

    def list(self) -> list[ImageRecord]:
        """Every image, newest first."""
        records = []
        for name in os.listdir(self.directory):
            if name.endswith(".json"):
                try:
                    records.append(ImageRecord(**read_json(os.path.join(self.directory, name))))
                except FileNotFoundError:
                    continue
        records.sort(key=lambda record: record.created, reverse=True)
        return records

    def get(self, image_id: str) -> ImageRecord:
        """The image with exactly this ID."""
        try:
            return ImageRecord(**read_json(self._record_path(image_id)))
        except FileNotFoundError:
            raise ImageNotFound(image_id) from None

    def find(self, name_or_id: str) -> ImageRecord | None:
        """The image a user means by a name, short name, ID or unique ID prefix, if any."""
        records = self.list()
        text = name_or_id.removeprefix("sha256:")
        by_id = [record for record in records if record.id.startswith(text)]
        if len(text) == 64 and by_id:
            return by_id[0]
        for candidate in _name_candidates(name_or_id):
            for record in records:
                if candidate in record.names:
                    return record
        if not is_qualified(name_or_id):
            short = _short_name_match(name_or_id)
            if short is not None:
                for record in records:
                    if any(short(name) for name in record.names):
                        return record
        if len(text) >= MIN_ID_PREFIX and len(by_id) == 1:
            return by_id[0]
        return None

    def lookup(self, name_or_id: str) -> ImageRecord:
        """Like find(), but an unknown image is an error naming it."""
        record = self.find(name_or_id)
        if record is None:
            raise ImageNotFound(name_or_id)
        return record

    def config(self, record: ImageRecord) -> dict[str, Any]:
        """The image's config document."""
        return json.loads(self.store.blobs.read(record.config_digest))

    def manifest(self, record: ImageRecord) -> dict[str, Any]:
        """The image's manifest document."""
        return json.loads(self.store.blobs.read(record.manifest_digest))

    def describe(self, record: ImageRecord) -> dict[str, Any]:
        """What `bb inspect` shows of the image."""
        config = self.config(record)
        return {
            "Type": "image",
            "Id": record.id,
            "Names": record.names,
            "Digest": record.manifest_digest,
            "Created": record.created,
            "Size": record.size,
            "Layers": [layer for layer in config.get("rootfs", {}).get("diff_ids", [])],
            "Config": config,
            "Manifest": self.manifest(record),
            "ManifestType": record.manifest_media_type,
        }

    def save(self, record: ImageRecord) -> None:
        """Write an image record (the caller holds the store lock)."""
        write_json_atomic(self._record_path(record.id), asdict(record))

    def add(self, record: ImageRecord) -> ImageRecord:
        """Store a new image, or merge names into the image with the same ID; names move to it."""
        try:
            existing = self.get(record.id)
            record.names = _merged(existing.names, record.names)
            record.extra = {**existing.extra, **record.extra}
        except ImageNotFound:
            pass
        self._take_names(record.names, record.id)
        self.save(record)
        return record

    def add_names(self, record: ImageRecord, names: builtins.list[str]) -> None:
        """Tag an image with more names (moving them from other images)."""
        self._take_names(names, record.id)
        record.names = _merged(record.names, names)
        self.save(record)

    def remove_name(self, record: ImageRecord, name: str) -> None:
        """Untag one name."""
        record.names = [existing for existing in record.names if existing != name]
        self.save(record)

    def _take_names(self, names: builtins.list[str], new_owner: str) -> None:
        for other in self.list():
            if other.id != new_owner and set(other.names) & set(names):
                other.names = [name for name in other.names if name not in names]
                self.save(other)

    def remove(self, record: ImageRecord) -> None:
        """Delete the image record (blobs and layers go with garbage collection)."""
        remove_file(self._record_path(record.id))


def _merged(first: list[str], second: list[str]) -> list[str]:
    return list(dict.fromkeys([*first, *second]))


def _name_candidates(text: str) -> list[str]:
    """Fully qualified names `text` may stand for, most likely first."""
    try:
        reference = parse_reference(text)
    except InvalidArgument:
        return []
    candidates = [str(reference)]
    if not is_qualified(text):
        candidates.append(str(parse_reference(text, default_registry=DOCKER_HUB)))
    return candidates


def _short_name_match(text: str):  # type: ignore[no-untyped-def]
    """A predicate matching names in any registry whose repository is `text`'s."""
    try:
        reference = parse_reference(text, default_registry=LOCAL_REGISTRY)
    except InvalidArgument:
        return None

    def matches(name: str) -> bool:
        try:
            other = parse_reference(name)
        except InvalidArgument:
            return False
        repository = other.repository.removeprefix("library/")
        return repository == reference.repository and (other.tag, other.digest) == (
            reference.tag,
            reference.digest,
        )

    return matches


def normalize_name(name: str) -> str:
    """The fully qualified form under which an image name is stored."""
    return str(parse_reference(name))
