"""Image configs and manifests in OCI and Docker v2 schema 2 form.

bb keeps one config document: the OCI image config, whose `config` section
also carries Docker's extra keys (Healthcheck, OnBuild, Shell) so nothing a
Dockerfile sets is lost whichever manifest format is written. The config's
bytes, and so the image ID, do not depend on the manifest format.
"""

from __future__ import annotations

import datetime
from typing import Any

from bb.errors import InvalidArgument
from bb.image.platform import Platform
from bb.system.atomic import canonical_json

MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEDIA_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
MEDIA_DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

FORMAT_OCI = "oci"
FORMAT_DOCKER = "docker"
FORMATS = (FORMAT_OCI, FORMAT_DOCKER)


def format_timestamp(when: datetime.datetime) -> str:
    """RFC 3339 in UTC, as Go's RFC3339Nano writes it."""
    when = when.astimezone(datetime.UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += f".{when.microsecond:06d}".rstrip("0")
    return text + "Z"


def timestamp_now() -> str:
    """The current time, formatted for a config or history entry."""
    return format_timestamp(datetime.datetime.now(datetime.UTC))


def timestamp_from_epoch(seconds: int) -> str:
    """A fixed time (for reproducible builds), formatted for a config or history entry."""
    return format_timestamp(datetime.datetime.fromtimestamp(seconds, datetime.UTC))


def new_image_config(platform: Platform | None = None) -> dict[str, Any]:
    """The config of an empty image (what `bb from scratch` starts from), for this machine or
    `platform`."""
    document: dict[str, Any] = {"config": {}, "rootfs": {"type": "layers", "diff_ids": []}}
    set_platform(document, platform or Platform.host())
    document["history"] = []
    return document


def set_platform(document: dict[str, Any], platform: Platform) -> None:
    """Record `platform` in an image config (architecture, os, and variant when it has one)."""
    document["architecture"] = platform.architecture
    document["os"] = platform.os
    if platform.variant:
        document["variant"] = platform.variant
    else:
        document.pop("variant", None)


def check_format(image_format: str) -> str:
    """Validate a --format value."""
    if image_format not in FORMATS:
        raise InvalidArgument(f'--format "{image_format}": must be "oci" or "docker"')
    return image_format


def compressed_layer_type(image_format: str, compression_format: str) -> str:
    """The media type of a layer compressed with gzip or zstd, in an OCI or Docker manifest."""
    if image_format == FORMAT_DOCKER:
        if compression_format != "gzip":
            # Docker's schema 2 has no zstd layer type; skopeo and buildah refuse it so too
            raise InvalidArgument(
                f"--compression-format {compression_format}: {compression_format} compression "
                "is not supported for docker images (use --format oci)"
            )
        return MEDIA_DOCKER_LAYER_GZIP
    return MEDIA_OCI_LAYER_ZSTD if compression_format == "zstd" else MEDIA_OCI_LAYER_GZIP


def build_manifest(
    config_digest: str,
    config_size: int,
    layers: list[tuple[str, int]],
    image_format: str,
    annotations: dict[str, str] | None = None,
    compression_format: str | None = None,
) -> tuple[bytes, str]:
    """The manifest (bytes, media type) for a config and layers (digest, size), uncompressed
    or all compressed with `compression_format`."""
    if image_format == FORMAT_DOCKER:
        media_type, config_type, layer_type = (
            MEDIA_DOCKER_MANIFEST,
            MEDIA_DOCKER_CONFIG,
            MEDIA_DOCKER_LAYER,
        )
    else:
        media_type, config_type, layer_type = MEDIA_OCI_MANIFEST, MEDIA_OCI_CONFIG, MEDIA_OCI_LAYER
    if compression_format is not None:
        layer_type = compressed_layer_type(image_format, compression_format)
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "digest": config_digest, "size": config_size},
        "layers": [
            {"mediaType": layer_type, "digest": digest, "size": size} for digest, size in layers
        ],
    }
    if annotations and image_format == FORMAT_OCI:
        manifest["annotations"] = dict(annotations)
    return canonical_json(manifest), media_type
