"""`oci:DIR[:REF]` and `oci-archive:PATH[:REF]`: the OCI image layout, as a directory or a tar of one."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile

from bb.archive.layer_tar import COPY_BUFFER
from bb.errors import ArchiveError
from bb.image.config import FORMAT_OCI, MEDIA_OCI_INDEX, build_manifest
from bb.image.manifest import LIST_TYPES, choose_platform, load_document, media_type_of, parse_manifest
from bb.image.reference import parse_reference
from bb.store.blobs import split_digest
from bb.store.image_io import add_image, opened_file
from bb.store.images import ImageRecord
from bb.store.store import Store
from bb.system.atomic import canonical_json, write_atomic
from bb.system.digests import digest_of
from bb.transports.base import StoredImage, Transport, TransportOptions, tag_of, unpacked_archive
from bb.transports.docker_archive import split_location, write_archive_file

REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'


def _blob_path(layout: str, digest: str) -> str:
    algorithm, encoded = split_digest(digest)
    return os.path.join(layout, "blobs", algorithm, encoded)


def _put_blob(layout: str, digest: str, source_path: str | None = None, data: bytes | None = None) -> None:
    path = _blob_path(layout, digest)
    if os.path.exists(path):
        return
    if data is not None:
        write_atomic(path, data, mode=0o644)
    else:
        temp = path + ".tmp"
        shutil.copyfile(source_path, temp)  # type: ignore[arg-type]
        os.rename(temp, path)


def write_layout(store: Store, images: list[StoredImage], layout: str, ref: str | None) -> None:
    """Add `images` to the OCI layout directory `layout` (created if needed), each under its ref name."""
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    write_atomic(os.path.join(layout, "oci-layout"), LAYOUT, mode=0o644)
    index_path = os.path.join(layout, "index.json")
    index = {"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX, "manifests": []}
    if os.path.exists(index_path):
        with open(index_path, "rb") as index_file:
            index = load_document(index_file.read(), "index.json")
    for image in images:
        for layer in image.layers:
            _put_blob(layout, layer.diff_id, source_path=image.layer_path(store, layer))
        _put_blob(layout, image.record.config_digest, data=image.config)
        manifest, media_type = build_manifest(image.record.config_digest, len(image.config),
                                              [(layer.diff_id, layer.size) for layer in image.layers], FORMAT_OCI)
        manifest_digest = digest_of(manifest)
        _put_blob(layout, manifest_digest, data=manifest)
        refs = [ref] if ref else [tag_of(name) for name in image.names] or [None]
        for name in refs:
            index["manifests"] = [m for m in index.get("manifests", [])
                                  if name is None or (m.get("annotations") or {}).get(REF_NAME) != name]
            entry = {"mediaType": media_type, "digest": manifest_digest, "size": len(manifest)}
            if name:
                entry["annotations"] = {REF_NAME: name}
            index["manifests"].append(entry)
    write_atomic(index_path, canonical_json(index), mode=0o644)


def _read_blob(layout: str, digest: str) -> bytes:
    try:
        with open(_blob_path(layout, digest), "rb") as blob:
            return blob.read()
    except FileNotFoundError:
        raise ArchiveError(f"OCI layout: blob {digest} is missing") from None


def _name_for(ref_name: str | None, layout: str) -> list[str]:
    """A stored name for a layout's image: its ref if that is a full reference, else the layout's name with it as tag."""
    if not ref_name:
        return []
    if "/" in ref_name:
        return [str(parse_reference(ref_name))]
    repository = os.path.basename(os.path.abspath(layout)).lower()
    return [str(parse_reference(f"{repository}:{ref_name}"))]


def load_layout(store: Store, layout: str, ref: str | None, name: str | None, source: str) -> list[ImageRecord]:
    """Store the image(s) of an OCI layout: the one under `ref`, or every one."""
    try:
        with open(os.path.join(layout, "index.json"), "rb") as index_file:
            index = load_document(index_file.read(), "index.json")
    except FileNotFoundError:
        raise ArchiveError("not an OCI layout: no index.json") from None
    entries = index.get("manifests") or []
    if ref:
        entries = [e for e in entries if (e.get("annotations") or {}).get(REF_NAME) == ref]
        if not entries:
            raise ArchiveError(f'OCI layout has no image named "{ref}"')
    loaded = []
    for entry in entries:
        digest = entry.get("digest", "")
        data = _read_blob(layout, digest)
        if media_type_of(data, entry.get("mediaType")) in LIST_TYPES:
            data = _read_blob(layout, choose_platform(data).digest)
        manifest = parse_manifest(data)
        config = _read_blob(layout, manifest.config.digest)
        for layer in manifest.layers:
            if not os.path.isfile(_blob_path(layout, layer.digest)):
                raise ArchiveError(f"OCI layout: layer {layer.digest} is missing")
        openers = [lambda path=_blob_path(layout, layer.digest): opened_file(path) for layer in manifest.layers]
        names = [name] if name else _name_for((entry.get("annotations") or {}).get(REF_NAME), source)
        loaded.append(add_image(store, config, openers, names))
    return loaded


class OciLayoutTransport(Transport):
    """An OCI image layout directory (`oci:`) or tar archive of one (`oci-archive:`)."""

    def __init__(self, archive: bool):
        self.archive = archive

    def export(self, store: Store, images: list[StoredImage], location: str, options: TransportOptions) -> None:
        """Write the images into the layout (a new archive, or a directory that may hold others)."""
        path, ref = split_location(location)
        if not self.archive:
            write_layout(store, images, path, ref)
            return
        with tempfile.TemporaryDirectory(prefix=f"{os.getpid()}-oci-", dir=store.temp_dir) as layout:
            write_layout(store, images, layout, ref)

            def write(output):  # type: ignore[no-untyped-def]
                with tarfile.open(fileobj=output, mode="w|", format=tarfile.PAX_FORMAT, bufsize=COPY_BUFFER,
                                  copybufsize=COPY_BUFFER) as tar:
                    for name in sorted(os.listdir(layout)):
                        tar.add(os.path.join(layout, name), arcname=name, filter=_plain_owner)

            write_archive_file(path, write)

    def import_images(self, store: Store, location: str, options: TransportOptions) -> list[ImageRecord]:
        """Read the image named by REF (or every image) from the layout."""
        path, ref = split_location(location)
        name = options.extra.get("name")
        if not self.archive:
            if not os.path.isdir(path):
                raise ArchiveError(f"{path}: no such OCI layout directory")
            return load_layout(store, path, ref, name, path)
        if not os.path.isfile(path):
            raise ArchiveError(f"{path}: no such file")
        with unpacked_archive(store, path) as layout:
            return load_layout(store, layout, ref, name, os.path.splitext(os.path.basename(path))[0])


def _plain_owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
