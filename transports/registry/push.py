"""Pushing to a registry: an image's blobs the registry lacks, then its manifest; manifest lists."""

from __future__ import annotations

import hashlib
import os
import tempfile

from bb.image.config import (
    FORMAT_DOCKER,
    MEDIA_DOCKER_CONFIG,
    MEDIA_DOCKER_MANIFEST,
    MEDIA_DOCKER_MANIFEST_LIST,
    MEDIA_OCI_CONFIG,
    MEDIA_OCI_INDEX,
    MEDIA_OCI_MANIFEST,
    compressed_layer_type,
)
from bb.image.reference import Reference
from bb.store.compressed_layers import CompressedLayers
from bb.store.store import Store
from bb.system.atomic import canonical_json
from bb.transports.base import StoredImage, TransportOptions
from bb.transports.registry.client import RegistryClient


def push_image(
    store: Store,
    image: StoredImage,
    reference: Reference,
    options: TransportOptions,
    by_digest: bool = False,
) -> tuple[str, int, str]:
    """Upload the blobs the registry lacks, then the manifest under the tag (or only its digest).

    Returns the pushed manifest's (digest, size, media type).
    """
    client = RegistryClient(reference, options)
    cache = CompressedLayers(store)
    docker = options.image_format == FORMAT_DOCKER
    compression = options.compression
    layer_type = compressed_layer_type(options.image_format, compression.format)
    descriptors = []
    for layer in image.layers:
        known = cache.known(layer.diff_id, compression)
        repository = f"{reference.registry}/{reference.repository}"
        sent = False
        if known is None or not client.has_blob(known["digest"]):
            mounted = False
            for source in (known or {}).get("repositories", []):
                registry, _, other = source.partition("/")
                if (
                    registry == reference.registry
                    and other != reference.repository
                    and known is not None
                ):
                    mounted = client.mount_blob(known["digest"], other)
                    if mounted:
                        break
            if not mounted:
                with cache.compressed(layer.diff_id, compression) as (path, digest, size):
                    if not client.has_blob(digest):
                        client.upload_blob(path, digest, size)
                        sent = True
                    known = {
                        "digest": digest,
                        "size": size,
                        "repositories": (known or {}).get("repositories", []),
                    }
        assert known is not None
        if not sent:
            options.progress.once("Copying", "blob", known["digest"], "skipped: already exists")
        if repository not in known["repositories"]:
            known["repositories"] = [*known["repositories"], repository]
        cache.remember(layer.diff_id, compression, known)
        descriptors.append(
            {
                "mediaType": layer_type,
                "digest": known["digest"],
                "size": known["size"],
            }
        )
    config_digest = image.record.config_digest
    if not client.has_blob(config_digest):
        with tempfile.NamedTemporaryFile(
            dir=store.temp_dir, prefix=f"{os.getpid()}-config-"
        ) as config_file:
            config_file.write(image.config)
            config_file.flush()
            client.upload_blob(config_file.name, config_digest, len(image.config), "config")
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_DOCKER_MANIFEST if docker else MEDIA_OCI_MANIFEST,
            "config": {
                "mediaType": MEDIA_DOCKER_CONFIG if docker else MEDIA_OCI_CONFIG,
                "digest": config_digest,
                "size": len(image.config),
            },
            "layers": descriptors,
        }
    )
    media_type = MEDIA_DOCKER_MANIFEST if docker else MEDIA_OCI_MANIFEST
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    client.put_manifest(digest if by_digest else reference.tag or "latest", manifest, media_type)
    return digest, len(manifest), media_type


def push_manifest_list(
    store: Store,
    images: list[tuple[StoredImage, dict]],
    reference: Reference,
    options: TransportOptions,
) -> str:
    """Push each image by digest, then the list (OCI index or Docker manifest list) under the tag;
    return its digest."""
    docker = options.image_format == FORMAT_DOCKER
    manifests = []
    for image, platform in images:
        digest, size, media_type = push_image(store, image, reference, options, by_digest=True)
        manifests.append(
            {"mediaType": media_type, "digest": digest, "size": size, "platform": platform}
        )
    document = {
        "schemaVersion": 2,
        "mediaType": MEDIA_DOCKER_MANIFEST_LIST if docker else MEDIA_OCI_INDEX,
        "manifests": manifests,
    }
    data = canonical_json(document)
    RegistryClient(reference, options).put_manifest(
        reference.tag or "latest", data, str(document["mediaType"])
    )
    return "sha256:" + hashlib.sha256(data).hexdigest()
