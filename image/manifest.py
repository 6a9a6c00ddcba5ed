"""Reading manifests and manifest lists, whichever of the Docker and OCI forms they are in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bb.errors import ArchiveError
from bb.image.config import MEDIA_DOCKER_MANIFEST_LIST, MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST
from bb.image.platform import Platform
from bb.system.limits import parse_json_document

LIST_TYPES = (MEDIA_OCI_INDEX, MEDIA_DOCKER_MANIFEST_LIST)


@dataclass(frozen=True)
class Descriptor:
    """A content descriptor: what a manifest says of one blob."""

    media_type: str
    digest: str
    size: int
    annotations: dict[str, str]
    platform: dict[str, Any]


def _descriptor(document: Any) -> Descriptor:
    try:
        return Descriptor(
            str(document.get("mediaType", "")),
            str(document["digest"]),
            int(document["size"]),
            dict(document.get("annotations") or {}),
            dict(document.get("platform") or {}),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ArchiveError("manifest has a malformed descriptor") from None


@dataclass(frozen=True)
class Manifest:
    """An image manifest: its config and layers."""

    media_type: str
    config: Descriptor
    layers: list[Descriptor]


def load_document(data: bytes, what: str) -> dict[str, Any]:
    """Parse a JSON document (bounded in size and depth), refusing anything but an object."""
    return parse_json_document(data, what)


def media_type_of(data: bytes, declared: str | None = None) -> str:
    """A manifest's media type: declared (e.g. by a registry), else its mediaType, else guessed."""
    document = load_document(data, "manifest")
    media_type = declared or document.get("mediaType") or ""
    if media_type:
        return media_type.split(";")[0].strip()
    return MEDIA_OCI_INDEX if "manifests" in document else MEDIA_OCI_MANIFEST


def parse_manifest(data: bytes) -> Manifest:
    """An image manifest (not a list)."""
    document = load_document(data, "manifest")
    if "config" not in document or not isinstance(document.get("layers"), list):
        raise ArchiveError("manifest has no config or layers")
    return Manifest(
        str(document.get("mediaType", MEDIA_OCI_MANIFEST)),
        _descriptor(document["config"]),
        [_descriptor(layer) for layer in document["layers"]],
    )


def list_entries(document: dict[str, Any]) -> list[Descriptor]:
    """The descriptors a manifest list or index (or an OCI layout's index.json) lists."""
    entries = document.get("manifests") or []
    if not isinstance(entries, list):
        raise ArchiveError("manifest list: manifests is not a list")
    return [_descriptor(entry) for entry in entries]


def choose_platform(data: bytes, platform: Platform | None = None) -> Descriptor:
    """From a manifest list or index, the entry for `platform` (default: this machine's); an
    entry that names no platform fits any, an exact variant beats another one."""
    entries = list_entries(load_document(data, "manifest list"))
    wanted = platform or Platform.host()
    fitting = [
        entry
        for entry in entries
        if not entry.platform.get("architecture") or wanted.matches(entry.platform)
    ]
    exact = [entry for entry in fitting if Platform.of_document(entry.platform) == wanted]
    if not fitting:
        raise ArchiveError(f"the manifest list has no image for {wanted}")
    return (exact or fitting)[0]
