"""`docker://REGISTRY/REPOSITORY[:TAG]`: the OCI distribution API (what registries speak).

Blobs are streamed and checked against their digests, never held whole in
memory. Layers go up gzip- or zstd-compressed; the compressed digest of each layer is
remembered (`<root>/compressed/`, see bb.store.compressed_layers), so a layer the
registry already has is found with one HEAD request and never sent again.

`client` speaks HTTP to one repository (TLS, authentication, bounded bodies),
`push` and `pull` move images with it.
"""

from __future__ import annotations

from bb.image.reference import Reference, parse_reference
from bb.store.images import ImageRecord
from bb.store.store import Store
from bb.transports.base import StoredImage, Transport, TransportOptions
from bb.transports.registry.pull import pull_image
from bb.transports.registry.push import push_image


def _reference(location: str) -> Reference:
    return parse_reference(location, default_registry="docker.io")


class RegistryTransport(Transport):
    """docker://REGISTRY/REPOSITORY[:TAG] (Docker Hub names without a registry get docker.io)."""

    def export(
        self, store: Store, images: list[StoredImage], location: str, options: TransportOptions
    ) -> None:
        """Push each image to the location."""
        for image in images:
            push_image(store, image, _reference(location), options)

    def import_images(
        self, store: Store, location: str, options: TransportOptions
    ) -> list[ImageRecord]:
        """Pull the image at the location."""
        return [pull_image(store, _reference(location), options)]
