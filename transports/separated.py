"""isula-build's separated images: app images shipped apart from their base and lib layers.

`save` writes, into a new directory, one gzip tarball of the base image's single layer, one of
the lib image's layers above it and one per app image holding the rest (with the app's
docker-archive manifest.json, config and repositories), named `NAME_TAG_{base,lib,app}_image.tar.gz`
(or as a rename.json says), and a `manifest` file: per app `NAME:TAG`, each tarball's name and
sha256, the layers in it and the base and lib image names. A base or lib tarball shared by
several apps is written once. `load` checks the tarballs' sha256 against the manifest (unless
told not to), unpacks them together into one docker-archive and loads that.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bb.archive.compression import Compression, compressing
from bb.archive.layer_tar import COPY_BUFFER
from bb.archive.securejoin import open_in_root
from bb.errors import ArchiveError, InvalidArgument, OutputError
from bb.image.reference import parse_reference
from bb.store.images import ImageRecord
from bb.store.store import Store
from bb.system.digests import sha256
from bb.system.limits import MAX_DOCUMENT_BYTES, parse_json_array, parse_json_document, read_at_most
from bb.transports.base import StoredImage, stored_image, unpacked_archive
from bb.transports.docker_archive import add_layer_entry, load_docker_archive, write_docker_archive

MANIFEST = "manifest"
DEFAULT_DIRECTORY = "Images"


@dataclass
class _Part:
    """One tarball of the manifest: its file name, sha256 and the layer directories in it."""

    name: str = ""
    digest: str = ""
    layers: tuple[str, ...] = ()


def _layer_directory(diff_id: str) -> str:
    """The directory a layer has in a docker-archive bb writes (its diff ID's hex)."""
    return diff_id.split(":", 1)[1]


def _tarball_prefix(name: str) -> str:
    """`NAME_TAG` of isula-build's tarball names: the repository's last component and the tag."""
    reference = parse_reference(name)
    return f"{reference.repository.rsplit('/', 1)[-1]}_{reference.tag or 'latest'}"


def _read_renames(path: str | None) -> dict[str, str]:
    """rename.json: [{"name": DEFAULT_TARBALL_NAME, "rename": NEW_NAME}, ...]."""
    if not path:
        return {}
    try:
        with open(path, "rb") as renames_file:
            data = read_at_most(renames_file, MAX_DOCUMENT_BYTES, path, InvalidArgument)
    except OSError as failure:
        raise InvalidArgument(f"{path}: {failure.strerror}") from None
    renames = {}
    for entry in parse_json_array(data, path, InvalidArgument):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("name"), str)
            and isinstance(entry.get("rename"), str)
        ):
            raise InvalidArgument(f'{path}: each entry must be {{"name": ..., "rename": ...}}')
        renames[entry["name"]] = _plain_file_name(entry["rename"], path)
    return renames


def _plain_file_name(name: str, what: str) -> str:
    """A tarball name, refused if it would lead out of the directory."""
    if not name or name in (".", "..") or "/" in name:
        raise InvalidArgument(f'{what}: "{name}" is not a plain file name')
    return name


def _named_image(store: Store, name: str, role: str) -> tuple[str, ImageRecord]:
    """The image under `name` and the name's familiar form; an ID is refused (names travel)."""
    record = store.images.lookup(name)
    if record.id.startswith(name.removeprefix("sha256:")):
        raise InvalidArgument(f'{role} "{name}": give an image name and tag, not an ID')
    return parse_reference(name).familiar(), record


def _write_tarball(path: str, write: Any) -> str:
    """Write a gzip tar with `write(tar)`; return its sha256 hex."""
    with open(path, "xb") as output:
        with compressing(output, Compression()) as packed:
            write(packed)
    digest = sha256()
    with open(path, "rb") as written:
        while chunk := written.read(COPY_BUFFER):
            digest.update(chunk)
    return digest.hexdigest()


def _layers_tarball(store: Store, image: StoredImage, layers: list[Any]) -> Any:
    def write(packed: Any) -> None:
        with tarfile.open(fileobj=packed, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for layer in layers:
                add_layer_entry(tar, image.layer_path(store, layer), layer)

    return write


@contextlib.contextmanager
def _new_directory(path: str) -> Iterator[str]:
    """A temporary directory that becomes `path` when the block ends, or nothing at all."""
    if os.path.lexists(path):
        raise OutputError(f'dest path already exist: "{path}", try to remove or rename it')
    parent, name = os.path.split(path)
    try:
        os.makedirs(parent, exist_ok=True)
        temp = os.path.join(parent, f".{name}.bb-tmp-{os.getpid()}")
        os.mkdir(temp, 0o755)
    except OSError as failure:
        raise OutputError(f"{path}: cannot create: {failure.strerror}") from None
    try:
        yield temp
        os.rename(temp, path)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def save_separated(
    store: Store,
    apps: list[str],
    base: str,
    lib: str | None,
    directory: str | None,
    rename_file: str | None,
) -> str:
    """Write `apps` as separated images into the new `directory` (default ./Images); return it."""
    if lib is not None and lib == base:
        raise InvalidArgument("base and lib images are the same")
    renames = _read_renames(rename_file)
    base_name, base_record = _named_image(store, base, "base image")
    base_layers = stored_image(store, base_record).layers
    if len(base_layers) != 1:
        raise InvalidArgument(f'base image "{base}" must have one layer, it has {len(base_layers)}')
    lib_name, lib_layers = "", []
    if lib is not None:
        lib_name, lib_record = _named_image(store, lib, "lib image")
        lib_layers = stored_image(store, lib_record).layers
    destination = os.path.abspath(directory or DEFAULT_DIRECTORY)
    manifest: dict[str, dict[str, Any]] = {}
    with _new_directory(destination) as temp:
        shared: dict[tuple[str, ...], _Part] = {}  # layer directories -> tarball holding them

        def part(kind: str, prefix: str, image: StoredImage, layers: list[Any]) -> _Part:
            key = tuple(_layer_directory(layer.diff_id) for layer in layers)
            if key not in shared:
                name = renames.get(f"{prefix}_{kind}_image.tar.gz", f"{prefix}_{kind}_image.tar.gz")
                digest = _write_tarball(
                    os.path.join(temp, name), _layers_tarball(store, image, layers)
                )
                shared[key] = _Part(name, digest, key)
            return shared[key]

        for app in sorted(dict.fromkeys(apps)):
            app_name, record = _named_image(store, app, "app image")
            image = stored_image(store, record, [str(parse_reference(app))])
            diff_ids = [layer.diff_id for layer in image.layers]
            if diff_ids[:1] != [base_layers[0].diff_id]:
                raise InvalidArgument(f'image "{app}" is not built on base image "{base}"')
            lib_ids = [layer.diff_id for layer in lib_layers]
            if diff_ids[: len(lib_ids)] != lib_ids:
                raise InvalidArgument(f'image "{app}" is not built on lib image "{lib}"')
            below = max(len(lib_ids), 1)  # the layers that travel in the base and lib tarballs
            if below >= len(diff_ids):
                raise InvalidArgument(f'image "{app}" has no layers of its own to save')
            prefix = _tarball_prefix(app)
            base_part = part("base", prefix, image, image.layers[:1])
            lib_part = part("lib", prefix, image, image.layers[1 : len(lib_ids)]) if lib else None
            own = image.layers[below:]
            app_file = renames.get(f"{prefix}_app_image.tar.gz", f"{prefix}_app_image.tar.gz")
            omitted = frozenset(layer.diff_id for layer in image.layers[:below])
            app_digest = _write_tarball(
                os.path.join(temp, app_file),
                lambda packed, image=image, omitted=omitted: write_docker_archive(
                    store, [image], packed, omit_layers=omitted
                ),
            )
            manifest[app_name] = {
                "app": app_file,
                "appHash": app_digest,
                "appLayers": [_layer_directory(layer.diff_id) for layer in own],
                "lib": lib_part.name if lib_part else "",
                "libHash": lib_part.digest if lib_part else "",
                "libImageName": lib_name,
                "libLayers": list(lib_part.layers) if lib_part else [],
                "base": base_part.name,
                "baseHash": base_part.digest,
                "baseImageName": base_name,
                "baseLayer": base_part.layers[0],
            }
        with open(os.path.join(temp, MANIFEST), "x", encoding="utf-8") as manifest_file:
            json.dump(manifest, manifest_file, indent=4)
    return destination


def _check_sha256(path: str, expected: str) -> None:
    digest = sha256()
    with open(path, "rb") as tarball:
        while chunk := tarball.read(COPY_BUFFER):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise ArchiveError(f'check sum for file "{path}" failed: it is not the one saved')


def load_separated(
    store: Store,
    directory: str,
    app: str,
    base: str | None,
    lib: str | None,
    check: bool = True,
) -> list[ImageRecord]:
    """Load the app image `app` of a separated-images directory, with its base and lib tarballs
    (from the directory unless `base`/`lib` name others)."""
    if base is not None and base == lib:
        raise InvalidArgument("base and lib tarballs are the same")
    with open_in_root(directory, MANIFEST, f"{directory}: {MANIFEST}") as manifest_file:
        data = read_at_most(manifest_file, MAX_DOCUMENT_BYTES, f"{directory}/{MANIFEST}")
    entry = parse_json_document(data, f"{directory}/{MANIFEST}").get(
        parse_reference(app).familiar()
    )
    if not isinstance(entry, dict):
        raise ArchiveError(f'{directory}/{MANIFEST}: failed to find app image "{app}"')
    tarballs = []
    for kind, given in (("base", base), ("lib", lib), ("app", None)):
        name, digest = entry.get(kind) or "", entry.get(f"{kind}Hash") or ""
        if not isinstance(name, str) or not isinstance(digest, str):
            raise ArchiveError(f"{directory}/{MANIFEST}: malformed entry for {app}")
        if given is None and not name:
            if kind == "lib":
                continue
            raise ArchiveError(f"{directory}/{MANIFEST}: {kind} image tarball can not be empty")
        path = given or os.path.join(directory, _plain_file_name(name, f"{directory}/{MANIFEST}"))
        if not os.path.isfile(path):
            raise ArchiveError(f"{path}: no such file")
        if check:
            _check_sha256(path, digest)
        tarballs.append(path)
    with unpacked_archive(store, tarballs[0]) as root:
        from bb.archive.extract import Whiteouts, extract_tar

        for path in tarballs[1:]:
            with open(path, "rb") as tarball:
                try:
                    extract_tar(tarball, root, Whiteouts.KEEP_AS_FILES)
                except ArchiveError as failure:
                    raise ArchiveError(f"{path}: {failure}") from None
        return load_docker_archive(store, root)
