"""`docker-archive:PATH[:NAME:TAG]`: the tar `docker save` writes and `docker load` reads."""

from __future__ import annotations

import functools
import io
import json
import os
import tarfile
from typing import Any

from bb.archive.layer_tar import COPY_BUFFER
from bb.archive.securejoin import open_in_root
from bb.errors import ArchiveError
from bb.image.reference import DOCKER_HUB, LOCAL_REGISTRY, parse_reference
from bb.store.image_io import add_image
from bb.store.images import ImageRecord
from bb.store.layers import LayerRecord
from bb.store.store import Store
from bb.system.limits import (
    MAX_DOCUMENT_BYTES,
    parse_json_array,
    parse_json_document,
    read_at_most,
)
from bb.system.progress import SILENT, Progress
from bb.transports.base import (
    CompressedLayer,
    StoredImage,
    Transport,
    TransportOptions,
    compressed_layers,
    output_file,
    unpacked_archive,
)

# In a manifest.json entry bb writes: its short names are local ones (localhost/NAME)
LOCAL_SHORT_KEY = "BbLocalShortNames"


def docker_name(name: str, short_local: bool = False) -> str:
    """The name as Docker writes it: Docker Hub names without their registry; or with
    `short_local`, local ones (localhost/NAME) without theirs and Docker Hub's in full (as
    containers/image writes them), so that a short name in the archive is a local one."""
    if short_local:
        return name.removeprefix(f"{LOCAL_REGISTRY}/")
    return name.removeprefix(f"{DOCKER_HUB}/library/").removeprefix(f"{DOCKER_HUB}/")


def split_location(location: str) -> tuple[str, str | None]:
    """PATH[:NAME[:TAG]] -> (PATH, NAME:TAG or None)."""
    path, _, name = location.partition(":")
    return path, name or None


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def add_layer_entry(
    tar: tarfile.TarFile,
    path: str,
    layer: LayerRecord,
    size: int | None = None,
    progress: Progress = SILENT,
) -> None:
    """Add a layer (its tar at `path`, uncompressed unless `size` says otherwise) as
    docker-archive's `HEX/layer.tar` (docker load reads compressed ones too)."""
    directory = layer.diff_id.split(":", 1)[1]
    info = tarfile.TarInfo(f"{directory}/layer.tar")
    info.mode, info.size = 0o644, layer.size if size is None else size
    with (
        open(path, "rb") as raw,
        progress.reading(raw, "blob", layer.diff_id, info.size) as blob,
    ):
        tar.addfile(info, blob)
    _add_bytes(tar, f"{directory}/VERSION", b"1.0")


def write_docker_archive(
    store: Store,
    images: list[StoredImage],
    output: Any,
    omit_layers: frozenset[str] = frozenset(),
    short_local: bool = False,
    compressed: dict[str, CompressedLayer] | None = None,
    progress: Progress = SILENT,
) -> None:
    """Write `images` as a docker-archive tar to the binary stream `output`.

    Layers in `omit_layers` (diff IDs) are listed in manifest.json but not written: they
    travel in another tarball (separated images). Those in `compressed` are written so."""
    manifest: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    written: set[str] = set()
    # typeshed lacks copybufsize (Python 3.8+ has it)
    with tarfile.open(  # type: ignore[call-overload]
        fileobj=output,
        mode="w|",
        format=tarfile.PAX_FORMAT,
        bufsize=COPY_BUFFER,
        copybufsize=COPY_BUFFER,
    ) as tar:
        for image in images:
            layer_paths = []
            for layer in image.layers:
                directory = layer.diff_id.split(":", 1)[1]
                layer_paths.append(f"{directory}/layer.tar")
                if directory in written or layer.diff_id in omit_layers:
                    continue
                written.add(directory)
                if compressed:
                    path, _, size = compressed[layer.diff_id]
                    add_layer_entry(tar, path, layer, size, progress)
                else:
                    add_layer_entry(tar, image.layer_path(store, layer), layer, progress=progress)
            config_name = f"{image.record.id}.json"
            if config_name not in written:
                written.add(config_name)
                _add_bytes(tar, config_name, image.config)
            tags = [docker_name(name, short_local) for name in image.names]
            entry: dict[str, Any] = {
                "Config": config_name,
                "RepoTags": tags or None,
                "Layers": layer_paths,
            }
            if short_local and any(tag != name for tag, name in zip(tags, image.names)):
                # docker ignores the key; bb's load reads those short names back as localhost/
                entry[LOCAL_SHORT_KEY] = True
            manifest.append(entry)
            for tag in tags:
                repository, _, tag_name = tag.rpartition(":")
                if image.layers:
                    repositories.setdefault(repository, {})[tag_name] = image.layers[
                        -1
                    ].diff_id.split(":", 1)[1]
        _add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
        if repositories:
            _add_bytes(tar, "repositories", json.dumps(repositories).encode())


def _diff_ids(config: bytes, count: int) -> list[str | None]:
    """The config's diff IDs, to name `count` layers by (None where it has none)."""
    try:
        found = parse_json_document(config, "image config")["rootfs"]["diff_ids"]
    except (ArchiveError, KeyError, TypeError):
        found = None
    found = found if isinstance(found, list) else []
    return [
        found[index] if index < len(found) and isinstance(found[index], str) else None
        for index in range(count)
    ]


def _entry_paths(entry: Any) -> tuple[str, list[str], list[str]]:
    """(config, layers, tags) of one manifest.json entry, refusing anything of the wrong type."""
    if not isinstance(entry, dict):
        raise ArchiveError("docker-archive manifest.json has a malformed entry")
    config, layers, tags = entry.get("Config"), entry.get("Layers"), entry.get("RepoTags") or []
    if not (
        isinstance(config, str)
        and isinstance(layers, list)
        and isinstance(tags, list)
        and all(isinstance(item, str) for item in [*layers, *tags])
    ):
        raise ArchiveError("docker-archive manifest.json has a malformed entry")
    return config, layers, tags


def load_docker_archive(
    store: Store, root: str, rename: str | None = None, progress: Progress = SILENT
) -> list[ImageRecord]:
    """Store every image of an unpacked docker-archive at `root`.

    Every file is opened inside `root` (see open_in_root) and must be a regular file."""
    what = "docker-archive manifest.json"
    with open_in_root(root, "manifest.json", what) as manifest_file:
        manifest = parse_json_array(read_at_most(manifest_file, MAX_DOCUMENT_BYTES, what), what)
    if not manifest:
        raise ArchiveError("docker-archive manifest.json lists no images")
    loaded = []
    for entry in manifest:
        config_path, layer_paths, tags = _entry_paths(entry)
        what = f"docker-archive: config {config_path}"
        with open_in_root(root, config_path, what) as config_file:
            config = read_at_most(config_file, MAX_DOCUMENT_BYTES, what)
        # Docker's rule: a short name is Docker Hub's; bb's own short names are its local ones
        registry = LOCAL_REGISTRY if entry.get(LOCAL_SHORT_KEY) is True else DOCKER_HUB
        names = (
            [rename]
            if rename
            else [str(parse_reference(tag, default_registry=registry)) for tag in tags]
        )
        # shown as containers/image names them: by the diff IDs the config gives
        diff_ids = _diff_ids(config, len(layer_paths))
        openers = [
            progress.opener(
                functools.partial(open_in_root, root, path, f"docker-archive: layer {path}"),
                "blob",
                diff_id,
            )
            for path, diff_id in zip(layer_paths, diff_ids)
        ]
        loaded.append(add_image(store, config, openers, names))
    return loaded


class DockerArchiveTransport(Transport):
    """docker save / docker load archives."""

    def export(
        self, store: Store, images: list[StoredImage], location: str, options: TransportOptions
    ) -> None:
        """Write one archive holding every image."""
        path, rename = split_location(location)
        if rename:
            for image in images:
                image.names = [str(parse_reference(rename))]
        # layers compressed only when asked (save --compress), as containers/image's are
        compression = options.compression if options.compress else None
        with (
            compressed_layers(store, images, compression) as compressed,
            output_file(path) as output,
        ):
            write_docker_archive(
                store,
                images,
                output,
                short_local=options.short_local_names,
                compressed=compressed,
                progress=options.progress,
            )

    def import_images(
        self, store: Store, location: str, options: TransportOptions
    ) -> list[ImageRecord]:
        """Load every image of the archive (named as it says, or as the location says)."""
        path, rename = split_location(location)
        if not os.path.isfile(path):
            raise ArchiveError(f"{path}: no such file")
        with unpacked_archive(store, path) as root:
            return load_docker_archive(store, root, rename, options.progress)
