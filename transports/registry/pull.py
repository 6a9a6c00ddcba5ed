"""Registry pulls: the wanted platform's image (chosen from a list), every blob checked."""

from __future__ import annotations

import functools
from typing import Any

from bb.errors import ArchiveError, ManifestUnknown, RegistryError, StoreError
from bb.image.manifest import (
    LIST_TYPES,
    Descriptor,
    Manifest,
    choose_platform,
    list_entries,
    load_document,
    parse_manifest,
)
from bb.image.platform import Platform
from bb.image.reference import Reference, parse_reference
from bb.store.blobs import split_digest
from bb.store.image_io import add_image
from bb.store.images import ImageRecord
from bb.store.store import Store
from bb.system.limits import MAX_DOCUMENT_BYTES, parse_json_document
from bb.transports.base import TransportOptions
from bb.transports.registries_config import load_registries_config
from bb.transports.registry.client import RegistryClient


def _checked(descriptor: Descriptor, what: str) -> Descriptor:
    """A descriptor from a manifest, refused unless its digest is a sha256 one and its size sane."""
    try:
        split_digest(descriptor.digest)
    except StoreError:
        raise ArchiveError(f"{what} has an invalid digest {descriptor.digest[:80]!r}") from None
    if descriptor.size < 0:
        raise ArchiveError(f"{what} has a negative size")
    return descriptor


def _manifest_source(
    reference: Reference, options: TransportOptions
) -> tuple[RegistryClient, bytes, str]:
    """The client of the first place registries.toml pulls the name from that has its manifest
    (the mirrors in order, then the location), with the manifest and its media type."""
    tag = reference.digest or reference.tag or "latest"
    sources = load_registries_config().pull_sources(reference.name)
    failures: list[RegistryError] = []
    for source in sources:
        try:
            client = RegistryClient(parse_reference(source, default_registry="docker.io"), options)
            return client, *client.manifest(tag)
        except RegistryError as failure:
            failures.append(failure)
    unknown = bool(failures) and all(isinstance(f, ManifestUnknown) for f in failures)
    raise (ManifestUnknown if unknown else RegistryError)("; ".join(map(str, failures)))


def _config(client: RegistryClient, manifest: Manifest) -> tuple[bytes, dict[str, Any]]:
    """The manifest's config blob (bounded, checked) and the document it is."""
    config_descriptor = _checked(manifest.config, "the manifest's config")
    if config_descriptor.size > MAX_DOCUMENT_BYTES:
        raise ArchiveError(f"the image config is larger than {MAX_DOCUMENT_BYTES} bytes")
    with client.blob(config_descriptor.digest, config_descriptor.size) as config_stream:
        config = config_stream.read()
    return config, parse_json_document(config, "the image config")


def listed_platforms(reference: Reference, options: TransportOptions) -> list[Platform]:
    """The platforms the image at `reference` is for: its list's entries (not BuildKit's
    attestations, whose platform is unknown/unknown), or its config's."""
    try:
        client, data, media_type = _manifest_source(reference, options)
        if media_type in LIST_TYPES:
            return [
                Platform.of_document(entry.platform)
                for entry in list_entries(load_document(data, "manifest list"))
                if entry.platform.get("architecture") not in (None, "", "unknown")
            ]
        return [Platform.of_document(_config(client, parse_manifest(data))[1])]
    except (ArchiveError, StoreError) as failure:
        raise RegistryError(f"reading {reference}: {failure}") from None


def pull_image(
    store: Store, reference: Reference, options: TransportOptions, names: list[str] | None = None
) -> ImageRecord:
    """Fetch the image (the wanted platform's, from a list); store it under the reference's name
    (or `names`)."""
    try:
        client, data, media_type = _manifest_source(reference, options)
        if media_type in LIST_TYPES:
            chosen = _checked(choose_platform(data, options.platform), "the manifest list's entry")
            data, media_type = client.manifest(chosen.digest, chosen.size)
        manifest = parse_manifest(data)
        config, document = _config(client, manifest)
        wanted = options.platform
        if wanted is not None and not wanted.matches(document):  # refused before it is stored
            found = Platform.of_document(document)
            raise RegistryError(f"pulling {reference}: the image is for {found}, not {wanted}")
        layers = [
            _checked(layer, f"layer {index}") for index, layer in enumerate(manifest.layers, 1)
        ]
        openers = [
            options.progress.opener(
                functools.partial(client.blob, layer.digest, layer.size),
                "blob",
                layer.digest,
                layer.size,
            )
            for layer in layers
        ]
        return add_image(store, config, openers, [str(reference)] if names is None else names)
    except (ArchiveError, StoreError) as failure:
        raise RegistryError(f"pulling {reference}: {failure}") from None
