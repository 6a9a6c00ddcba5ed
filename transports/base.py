"""What every transport shares: the interface, options, and images read out of the store."""

from __future__ import annotations

import abc
import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from bb.archive.compression import Compression
from bb.archive.extract import Whiteouts, extract_tar
from bb.errors import ArchiveError, OutputError
from bb.image.config import FORMAT_OCI
from bb.image.platform import Platform
from bb.image.reference import parse_reference
from bb.store.images import ImageRecord
from bb.store.layers import LayerRecord
from bb.store.store import Store
from bb.system.atomic import fsync_directory, remove_file
from bb.system.progress import SILENT, Progress

# `.NAME.bb-tmp-PID`: an output being written, by process PID. The next bb's repair knows only the
# store, so whoever next writes into the directory removes those whose process is gone.
_TEMP_SUFFIX = ".bb-tmp-"
_TEMP_NAME = re.compile(r"\.(?P<name>.+)\.bb-tmp-(?P<pid>[0-9]+)")


@dataclass
class TransportOptions:
    """Options of push/pull/save/load that a transport may use."""

    image_format: str = FORMAT_OCI
    tls_verify: bool | None = None
    authfile: str | None = None
    credentials: str | None = None
    #: --cert-dir: CA certificates (*.crt) and client pairs (*.cert/*.key) for TLS
    cert_dir: str | None = None
    #: how often a failed registry request is tried again, first after retry_delay seconds
    retries: int = 3
    retry_delay: float = 2.0
    #: docker-archive: write names in localhost/ (where short names live) short, as docker
    #: users type them, so `docker load` gives `x:1` (isula-build's ctr-img keeps localhost/)
    short_local_names: bool = True
    #: the platform to take from a manifest list (None: this machine's)
    platform: Platform | None = None
    #: how layers are compressed where they are
    compression: Compression = field(default_factory=Compression)
    #: compress layers in an archive or layout: None leaves it to the destination (a registry
    #: and an OCI layout do, as containers/image's do; a docker-archive does not)
    compress: bool | None = None
    #: where layer transfers and retries are shown (silent unless a verb says)
    progress: Progress = SILENT
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class StoredImage:
    """An image read out of the store: config bytes and uncompressed layers (as blob files)."""

    record: ImageRecord
    config: bytes
    layers: list[LayerRecord]
    #: names to give it at the destination (fully qualified)
    names: list[str]

    def layer_path(self, store: Store, layer: LayerRecord) -> str:
        """Where a layer's uncompressed tar is."""
        return store.blobs.path(layer.diff_id)


def stored_image(store: Store, record: ImageRecord, names: list[str] | None = None) -> StoredImage:
    """Read what a destination needs of `record`."""
    layers = store.layers.chain(record.top_layer)
    return StoredImage(
        record,
        store.blobs.read(record.config_digest),
        layers,
        list(record.names if names is None else names),
    )


# A layer compressed into a temporary file: (path, digest, size).
CompressedLayer = tuple[str, str, int]


@contextlib.contextmanager
def compressed_layers(
    store: Store, images: list[StoredImage], compression: Compression | None
) -> Iterator[dict[str, CompressedLayer]]:
    """The layers of `images` compressed into temporary files, by diff ID (none if None)."""
    from bb.store.compressed_layers import CompressedLayers

    layers: dict[str, CompressedLayer] = {}
    with contextlib.ExitStack() as temps:
        if compression is not None:
            cache = CompressedLayers(store)
            for image in images:
                for layer in image.layers:
                    if layer.diff_id not in layers:
                        layers[layer.diff_id] = temps.enter_context(
                            cache.compressed(layer.diff_id, compression)
                        )
        yield layers


def tag_of(name: str) -> str:
    """The tag part of a stored name ("localhost/busybox:1.0" -> "1.0")."""
    return parse_reference(name).tag or "latest"


@contextlib.contextmanager
def unpacked_archive(store: Store, path: str) -> Iterator[str]:
    """A tar archive (any compression) unpacked safely into a temporary directory of the store."""
    with tempfile.TemporaryDirectory(
        prefix=f"{os.getpid()}-archive-", dir=store.temp_dir
    ) as directory:
        try:
            with open(path, "rb") as archive:
                extract_tar(archive, directory, Whiteouts.KEEP_AS_FILES)
        except ArchiveError as failure:
            raise ArchiveError(f"{path}: {failure}") from None
        yield directory


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    return False


def remove_stale_temps(directory: str, name: str | None = None) -> None:
    """Remove the output temps (all, or those of `name`) that a killed bb left in `directory`."""
    try:
        entries = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        match = _TEMP_NAME.fullmatch(entry)
        if match and (name is None or match["name"] == name) and _process_gone(int(match["pid"])):
            remove_file(os.path.join(directory, entry))


@contextlib.contextmanager
def output_file(path: str, mode: int = 0o644) -> Iterator[BinaryIO]:
    """A stream that becomes the file `path` when the block ends, atomically, or nothing at all.

    It is written to `.NAME.bb-tmp-PID` beside `path`, fsynced and renamed into place; an
    error, SIGINT or SIGTERM removes it, a SIGKILL leaves it for the next write there to
    remove. Failures name `path`, never the temp."""
    directory, name = os.path.split(os.path.abspath(path))
    if os.path.isdir(path):
        raise OutputError(f"{path}: is a directory")
    remove_stale_temps(directory, name)
    temp = os.path.join(directory, f".{name}{_TEMP_SUFFIX}{os.getpid()}")
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(temp, flags, mode)
    except OSError as failure:
        raise OutputError(f"{path}: cannot create: {failure.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as output:
            yield output
            output.flush()
            os.fchmod(output.fileno(), mode)
            os.fsync(output.fileno())
        os.rename(temp, path)
        fsync_directory(directory)
    except OSError as failure:
        remove_file(temp)
        raise OutputError(f"writing {path}: {failure.strerror or failure}") from None
    except BaseException:
        remove_file(temp)
        raise


class Transport(abc.ABC):
    """Images to and from one kind of location (`<prefix>:<location>`)."""

    @abc.abstractmethod
    def export(
        self, store: Store, images: list[StoredImage], location: str, options: TransportOptions
    ) -> None:
        """Write the images to `location`."""

    @abc.abstractmethod
    def import_images(
        self, store: Store, location: str, options: TransportOptions
    ) -> list[ImageRecord]:
        """Read the image(s) at `location` into the store."""
