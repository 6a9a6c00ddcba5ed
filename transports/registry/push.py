"""Pushing to a registry: an image's blobs the registry lacks, then its manifest; manifest lists."""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import threading

from bb.errors import Stopped
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
from bb.store.layers import LayerRecord
from bb.store.store import Store
from bb.system.atomic import canonical_json
from bb.system.parallel import at_once
from bb.transports.base import StoredImage, TransportOptions
from bb.transports.registry.client import RegistryClient


def _push_layer(
    client: RegistryClient,
    cache: CompressedLayers,
    layer: LayerRecord,
    layer_type: str,
    options: TransportOptions,
    stop: threading.Event,
) -> dict:
    """Make sure the registry holds a layer (found there, mounted from another repository of
    it, or compressed and uploaded); return its descriptor. Gives up once `stop` is set."""
    reference = client.reference
    compression = options.compression
    known = cache.known(layer.diff_id, compression)
    repository = f"{reference.registry}/{reference.repository}"
    sent = False
    if known is None or not client.has_blob(known["digest"]):
        mounted = False
        for source in (known or {}).get("repositories", []):
            registry, _, other = source.partition("/")
            if registry == reference.registry and other != reference.repository:
                mounted = client.mount_blob(known["digest"], other)  # type: ignore[index]
                if mounted:
                    break
        if not mounted:
            if stop.is_set():
                raise Stopped("stopped")
            with cache.compressed(layer.diff_id, compression) as (path, digest, size):
                if not client.has_blob(digest):
                    client.upload_blob(path, digest, size, stop=stop)
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
    return {
        "mediaType": layer_type,
        "digest": known["digest"],
        "size": known["size"],
    }


def push_image(
    store: Store,
    image: StoredImage,
    reference: Reference,
    options: TransportOptions,
    by_digest: bool = False,
) -> tuple[str, int, str]:
    """Upload the blobs the registry lacks (up to PARALLEL_LAYERS layers at once), then the
    config and the manifest under the tag (or only its digest); a layer that fails stops the
    others, and no manifest is pushed.

    Returns the pushed manifest's (digest, size, media type).
    """
    client = RegistryClient(reference, options)
    try:
        return _push_image(client, CompressedLayers(store), store, image, options, by_digest)
    finally:
        client.close()


def _push_image(
    client: RegistryClient,
    cache: CompressedLayers,
    store: Store,
    image: StoredImage,
    options: TransportOptions,
    by_digest: bool,
) -> tuple[str, int, str]:
    """push_image's work, on `client`."""
    docker = options.image_format == FORMAT_DOCKER
    # first: it refuses zstd for docker images, before anything is sent
    layer_type = compressed_layer_type(options.image_format, options.compression.format)
    # a layer the image has twice (an empty one) is pushed once
    distinct = list({layer.diff_id: layer for layer in image.layers}.values())
    pushed = at_once(
        [
            functools.partial(_push_layer, client, cache, layer, layer_type, options)
            for layer in distinct
        ]
    )
    by_diff_id = {layer.diff_id: descriptor for layer, descriptor in zip(distinct, pushed)}
    descriptors = [by_diff_id[layer.diff_id] for layer in image.layers]
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
    tag = digest if by_digest else client.reference.tag or "latest"
    client.put_manifest(tag, manifest, media_type)
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
