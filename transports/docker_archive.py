"""`docker-archive:PATH[:NAME:TAG]`: the tar `docker save` writes and `docker load` reads."""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
from typing import Any

from bb.archive.layer_tar import COPY_BUFFER
from bb.archive.securejoin import clean_relative, resolve_in_root
from bb.errors import ArchiveError
from bb.image.reference import DOCKER_HUB, parse_reference
from bb.store.image_io import add_image, opened_file
from bb.store.images import ImageRecord
from bb.store.store import Store
from bb.system.atomic import fsync_directory
from bb.transports.base import StoredImage, Transport, TransportOptions, unpacked_archive


def docker_name(name: str) -> str:
    """The name as Docker writes it: Docker Hub names without their registry."""
    return name.removeprefix(f"{DOCKER_HUB}/library/").removeprefix(f"{DOCKER_HUB}/")


def split_location(location: str) -> tuple[str, str | None]:
    """PATH[:NAME[:TAG]] -> (PATH, NAME:TAG or None)."""
    path, _, name = location.partition(":")
    return path, name or None


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def write_docker_archive(store: Store, images: list[StoredImage], output: Any) -> None:
    """Write `images` as a docker-archive tar to the binary stream `output`."""
    manifest, repositories, written = [], {}, set()
    with tarfile.open(fileobj=output, mode="w|", format=tarfile.PAX_FORMAT, bufsize=COPY_BUFFER,
                      copybufsize=COPY_BUFFER) as tar:
        for image in images:
            layer_paths = []
            for layer in image.layers:
                directory = layer.diff_id.split(":", 1)[1]
                layer_paths.append(f"{directory}/layer.tar")
                if directory in written:
                    continue
                written.add(directory)
                info = tarfile.TarInfo(f"{directory}/layer.tar")
                info.mode, info.size = 0o644, layer.size
                with open(image.layer_path(store, layer), "rb") as blob:
                    tar.addfile(info, blob)
                _add_bytes(tar, f"{directory}/VERSION", b"1.0")
            config_name = f"{image.record.id}.json"
            if config_name not in written:
                written.add(config_name)
                _add_bytes(tar, config_name, image.config)
            tags = [docker_name(name) for name in image.names]
            manifest.append({"Config": config_name, "RepoTags": tags or None, "Layers": layer_paths})
            for tag in tags:
                repository, _, tag_name = tag.rpartition(":")
                if image.layers:
                    repositories.setdefault(repository, {})[tag_name] = image.layers[-1].diff_id.split(":", 1)[1]
        _add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
        if repositories:
            _add_bytes(tar, "repositories", json.dumps(repositories).encode())


def write_archive_file(path: str, write: Any) -> None:
    """Create `path` atomically with `write(stream)`."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp_path = tempfile.mkstemp(prefix=".bb-archive-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as output:
            write(output)
            output.flush()
            os.fsync(output.fileno())
        os.chmod(temp_path, 0o644)
        os.rename(temp_path, path)
        fsync_directory(directory)
    except BaseException:
        if os.path.exists(temp_path):
            os.unlink(temp_path)
        raise


def load_docker_archive(store: Store, root: str, rename: str | None = None) -> list[ImageRecord]:
    """Store every image of an unpacked docker-archive at `root`."""
    try:
        with open(resolve_in_root(root, "manifest.json"), "rb") as manifest_file:
            manifest = json.load(manifest_file)
    except FileNotFoundError:
        raise ArchiveError("not a docker-archive: no manifest.json") from None
    except ValueError:
        raise ArchiveError("docker-archive manifest.json is not valid JSON") from None
    if not isinstance(manifest, list) or not manifest:
        raise ArchiveError("docker-archive manifest.json lists no images")
    loaded = []
    for entry in manifest:
        try:
            config_path = resolve_in_root(root, clean_relative(entry["Config"]))
            layer_paths = [resolve_in_root(root, clean_relative(layer)) for layer in entry["Layers"]]
            tags = list(entry.get("RepoTags") or [])
        except (KeyError, TypeError, AttributeError):
            raise ArchiveError("docker-archive manifest.json has a malformed entry") from None
        try:
            with open(config_path, "rb") as config_file:
                config = config_file.read()
        except OSError:
            raise ArchiveError(f"docker-archive: missing config {entry['Config']}") from None
        for layer_path in layer_paths:
            if not os.path.isfile(layer_path):
                raise ArchiveError(f"docker-archive: missing layer {os.path.relpath(layer_path, root)}")
        names = [rename] if rename else [str(parse_reference(tag, default_registry=DOCKER_HUB)) for tag in tags]
        openers = [lambda path=path: opened_file(path) for path in layer_paths]
        loaded.append(add_image(store, config, openers, names))
    return loaded


class DockerArchiveTransport(Transport):
    """docker save / docker load archives."""

    def export(self, store: Store, images: list[StoredImage], location: str, options: TransportOptions) -> None:
        """Write one archive holding every image."""
        path, rename = split_location(location)
        if rename:
            for image in images:
                image.names = [str(parse_reference(rename))]
        write_archive_file(path, lambda output: write_docker_archive(store, images, output))

    def import_images(self, store: Store, location: str, options: TransportOptions) -> list[ImageRecord]:
        """Load every image of the archive (named as it says, or as the location says)."""
        path, rename = split_location(location)
        if not os.path.isfile(path):
            raise ArchiveError(f"{path}: no such file")
        with unpacked_archive(store, path) as root:
            return load_docker_archive(store, root, rename)
