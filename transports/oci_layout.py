"""`oci:DIR[:REF]` and `oci-archive:PATH[:REF]`: the OCI image layout as a directory or a tar."""

from __future__ import annotations

import contextlib
import functools
import io
import os
import shutil
import tarfile
from collections.abc import Iterator
from typing import Any, BinaryIO

from bb.archive.compression import Compression
from bb.archive.layer_tar import COPY_BUFFER
from bb.archive.securejoin import open_in_root
from bb.errors import ArchiveError, OutputError, StoreError
from bb.image.config import FORMAT_OCI, MEDIA_OCI_INDEX, build_manifest
from bb.image.manifest import (
    LIST_TYPES,
    Descriptor,
    choose_platform,
    list_entries,
    load_document,
    media_type_of,
    parse_manifest,
)
from bb.image.platform import Platform
from bb.image.reference import parse_reference
from bb.store.blobs import split_digest
from bb.store.image_io import add_image
from bb.store.images import ImageRecord
from bb.store.store import Store
from bb.system.atomic import canonical_json
from bb.system.digests import digest_of, sha256
from bb.system.limits import MAX_DOCUMENT_BYTES, read_at_most
from bb.system.progress import SILENT, Progress
from bb.transports.base import (
    CompressedLayer,
    StoredImage,
    Transport,
    TransportOptions,
    compressed_layers,
    output_file,
    remove_stale_temps,
    tag_of,
    unpacked_archive,
)
from bb.transports.docker_archive import split_location

REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'


def _blob_name(digest: str) -> str:
    """`blobs/sha256/<hex>` for a digest, which must be a valid one before it becomes a path."""
    try:
        algorithm, encoded = split_digest(digest)
    except StoreError:
        raise ArchiveError(f'OCI layout: invalid digest "{digest}"') from None
    return f"blobs/{algorithm}/{encoded}"


def _read_index(layout: str) -> dict[str, Any]:
    with open_in_root(layout, "index.json", "OCI layout: index.json") as index_file:
        data = read_at_most(index_file, MAX_DOCUMENT_BYTES, "OCI layout: index.json")
    return load_document(data, "index.json")


# A blob to write: its digest, and its bytes or the store file holding them.
Blob = tuple[str, "bytes | str"]


def _layout_contents(
    store: Store,
    images: list[StoredImage],
    ref: str | None,
    index: dict[str, Any],
    compressed: dict[str, CompressedLayer],
    compression: Compression | None,
    full_names: bool = False,
) -> list[Blob]:
    """The blobs of `images` (layers first), adding each image to `index` under its ref name.

    Layers are those `compressed` holds (by diff ID) if `compression`, else uncompressed. With
    no `ref`, each of an image's names gives one: its tag, or with `full_names` (an archive,
    which is all one load reads) the whole name, so loading it restores the name."""
    blobs: dict[str, bytes | str] = {}
    for image in images:
        descriptors = []
        for layer in image.layers:
            if compression is None:
                path, digest, size = image.layer_path(store, layer), layer.diff_id, layer.size
            else:
                path, digest, size = compressed[layer.diff_id]
            blobs[digest] = path
            descriptors.append((digest, size))
        blobs[image.record.config_digest] = image.config
        manifest, media_type = build_manifest(
            image.record.config_digest,
            len(image.config),
            descriptors,
            FORMAT_OCI,
            compression_format=compression.format if compression else None,
        )
        manifest_digest = digest_of(manifest)
        blobs[manifest_digest] = manifest
        own = image.names if full_names else [tag_of(name) for name in image.names]
        refs: list[str | None] = [ref] if ref else list(own) or [None]
        for name in refs:
            index["manifests"] = [
                m
                for m in index.get("manifests", [])
                if name is None or (m.get("annotations") or {}).get(REF_NAME) != name
            ]
            entry = {"mediaType": media_type, "digest": manifest_digest, "size": len(manifest)}
            if name:
                entry["annotations"] = {REF_NAME: name}
            index["manifests"].append(entry)
    return list(blobs.items())


def _new_index() -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX, "manifests": []}


def _layout_compression(options: TransportOptions) -> Compression | None:
    """How an OCI layout's layers are compressed: as containers/image's are, unless told not to."""
    return None if options.compress is False else options.compression


def write_layout(
    store: Store, images: list[StoredImage], layout: str, ref: str | None, options: TransportOptions
) -> None:
    """Add `images` to the OCI layout directory `layout` (created if needed), each under its ref.

    Blobs come first and index.json last, each written atomically: a layout killed half-way
    has its old index, and the temps it leaves are removed by the next write into it."""
    blob_directory = os.path.join(layout, "blobs", "sha256")
    try:
        os.makedirs(blob_directory, exist_ok=True)
    except OSError as failure:
        raise OutputError(f"{layout}: cannot create: {failure.strerror}") from None
    for directory in (layout, blob_directory):
        remove_stale_temps(directory)
    index = _new_index()
    if os.path.lexists(os.path.join(layout, "index.json")):
        index = _read_index(layout)
        list_entries(index)  # a malformed index is refused before anything is written
    compression = _layout_compression(options)
    with compressed_layers(store, images, compression) as compressed:
        for digest, content in _layout_contents(store, images, ref, index, compressed, compression):
            path = os.path.join(layout, _blob_name(digest))
            if os.path.exists(path):
                continue
            with output_file(path) as output:
                if isinstance(content, bytes):
                    output.write(content)
                else:
                    with (
                        open(content, "rb") as raw,
                        options.progress.reading(raw, "blob", digest) as source,
                    ):
                        shutil.copyfileobj(source, output, COPY_BUFFER)
    with output_file(os.path.join(layout, "oci-layout")) as output:
        output.write(LAYOUT)
    with output_file(os.path.join(layout, "index.json")) as output:
        output.write(canonical_json(index))


def write_layout_archive(
    store: Store, images: list[StoredImage], path: str, ref: str | None, options: TransportOptions
) -> None:
    """Write `images` as a tar of an OCI layout to the file `path`, straight from the store."""
    compression = _layout_compression(options)
    with (
        compressed_layers(store, images, compression) as compressed,
        output_file(path) as output,
        tarfile.open(  # type: ignore[call-overload]
            fileobj=output,
            mode="w|",
            format=tarfile.PAX_FORMAT,
            bufsize=COPY_BUFFER,
            copybufsize=COPY_BUFFER,
        ) as tar,
    ):
        index = _new_index()
        blobs = _layout_contents(
            store, images, ref, index, compressed, compression, full_names=True
        )
        _add_member(tar, "oci-layout", LAYOUT)
        for digest, content in blobs:
            if isinstance(content, bytes):
                _add_member(tar, _blob_name(digest), content)
            else:
                with (
                    open(content, "rb") as raw,
                    options.progress.reading(raw, "blob", digest) as source,
                ):
                    _add_member(tar, _blob_name(digest), source, os.fstat(raw.fileno()).st_size)
        _add_member(tar, "index.json", canonical_json(index))


def _add_member(
    tar: tarfile.TarFile, name: str, content: bytes | BinaryIO, size: int | None = None
) -> None:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    info.size = len(content) if isinstance(content, bytes) else size  # type: ignore[assignment]
    tar.addfile(info, io.BytesIO(content) if isinstance(content, bytes) else content)


def _open_blob(layout: str, descriptor: Descriptor) -> BinaryIO:
    """A blob opened inside the layout, refused unless exactly as long as its descriptor says."""
    what = f"OCI layout: blob {descriptor.digest}"
    stream = open_in_root(layout, _blob_name(descriptor.digest), what)
    size = os.fstat(stream.fileno()).st_size
    if size != descriptor.size:
        stream.close()
        raise ArchiveError(f"{what} is {size} bytes, its descriptor says {descriptor.size}")
    return stream


def _check_digest(descriptor: Descriptor, found: str) -> None:
    if found != descriptor.digest:
        raise ArchiveError(f"OCI layout: blob {descriptor.digest} has content digest {found}")


def _read_blob(layout: str, descriptor: Descriptor) -> bytes:
    """A manifest or config blob, checked against its descriptor's size and digest."""
    if descriptor.size > MAX_DOCUMENT_BYTES:
        raise ArchiveError(
            f"OCI layout: blob {descriptor.digest} is larger than {MAX_DOCUMENT_BYTES} bytes"
        )
    with _open_blob(layout, descriptor) as blob:
        data = read_at_most(blob, descriptor.size, f"OCI layout: blob {descriptor.digest}")
    _check_digest(descriptor, digest_of(data))
    return data


class _DigestingReader:
    """Reads a stream up to `size` bytes and no further, hashing what it gives."""

    def __init__(self, stream: BinaryIO, size: int):
        self.stream = stream
        self.remaining = size
        self.hash = sha256()

    def read(self, size: int = -1) -> bytes:
        """At most `size` bytes (all that is left if negative), never past the descriptor's size."""
        wanted = self.remaining if size < 0 else min(size, self.remaining)
        data = self.stream.read(wanted)
        self.remaining -= len(data)
        self.hash.update(data)
        return data

    def readable(self) -> bool:
        """A reader (the decompressors ask)."""
        return True


@contextlib.contextmanager
def _verified_layer(layout: str, descriptor: Descriptor) -> Iterator[BinaryIO]:
    """A layer blob to read; once read, its digest must be the descriptor's."""
    with _open_blob(layout, descriptor) as blob:
        reader = _DigestingReader(blob, descriptor.size)
        yield reader  # type: ignore[misc]
        while reader.read(COPY_BUFFER):  # what the decompressor did not need still counts
            pass
        _check_digest(descriptor, "sha256:" + reader.hash.hexdigest())


def _name_for(ref_name: object, layout: str) -> list[str]:
    """A stored name for a layout's image: its ref if that is a reference ("name:tag",
    "registry/name"), else (a bare tag) the layout's name with it as tag."""
    if not ref_name or not isinstance(ref_name, str):
        return []
    if "/" in ref_name or ":" in ref_name:
        return [str(parse_reference(ref_name))]
    repository = os.path.basename(os.path.abspath(layout)).lower()
    return [str(parse_reference(f"{repository}:{ref_name}"))]


def load_layout(
    store: Store,
    layout: str,
    ref: str | None,
    name: str | None,
    source: str,
    platform: Platform | None = None,
    progress: Progress = SILENT,
) -> list[ImageRecord]:
    """Store the image(s) of an OCI layout: the one under `ref`, or every one.

    Every file is opened inside the layout (see open_in_root) and every blob, manifests and
    configs included, is checked against its descriptor's size and digest."""
    entries = list_entries(_read_index(layout))
    if ref:
        entries = [e for e in entries if e.annotations.get(REF_NAME) == ref]
        if not entries:
            raise ArchiveError(f'OCI layout has no image named "{ref}"')
    loaded = []
    for entry in entries:
        data = _read_blob(layout, entry)
        if media_type_of(data, entry.media_type or None) in LIST_TYPES:
            data = _read_blob(layout, choose_platform(data, platform))
        manifest = parse_manifest(data)
        config = _read_blob(layout, manifest.config)
        openers = [
            progress.opener(
                functools.partial(_verified_layer, layout, layer), "blob", layer.digest, layer.size
            )
            for layer in manifest.layers
        ]
        names = [name] if name else _name_for(entry.annotations.get(REF_NAME), source)
        loaded.append(add_image(store, config, openers, names))
    return loaded


class OciLayoutTransport(Transport):
    """An OCI image layout directory (`oci:`) or tar archive of one (`oci-archive:`)."""

    def __init__(self, archive: bool):
        self.archive = archive

    def export(
        self, store: Store, images: list[StoredImage], location: str, options: TransportOptions
    ) -> None:
        """Write the images into the layout (a new archive, or a directory that may hold others)."""
        path, ref = split_location(location)
        if not self.archive:
            write_layout(store, images, path, ref, options)
            return
        write_layout_archive(store, images, path, ref, options)

    def import_images(
        self, store: Store, location: str, options: TransportOptions
    ) -> list[ImageRecord]:
        """Read the image named by REF (or every image) from the layout."""
        path, ref = split_location(location)
        name = options.extra.get("name")
        if not self.archive:
            if not os.path.isdir(path):
                raise ArchiveError(f"{path}: no such OCI layout directory")
            return load_layout(store, path, ref, name, path, options.platform, options.progress)
        if not os.path.isfile(path):
            raise ArchiveError(f"{path}: no such file")
        with unpacked_archive(store, path) as layout:
            return load_layout(
                store,
                layout,
                ref,
                name,
                os.path.splitext(os.path.basename(path))[0],
                options.platform,
                options.progress,
            )
