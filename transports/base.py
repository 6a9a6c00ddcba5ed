"""What every transport shares: the interface, options, and images read out of the store."""

from __future__ import annotations

import abc
import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from typing import Iterator

from bb.archive.extract import Whiteouts, extract_tar
from bb.errors import ArchiveError
from bb.image.config import FORMAT_OCI
from bb.image.reference import parse_reference
from bb.store.images import ImageRecord
from bb.store.layers import LayerRecord
from bb.store.store import Store


@dataclass
class TransportOptions:
    """Options of push/pull/save/load that a transport may use."""

    image_format: str = FORMAT_OCI
    tls_verify: bool | None = None
    authfile: str | None = None
    credentials: str | None = None
    #: what to print progress lines with (None: quiet)
    report: object = None
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
    return StoredImage(record, store.blobs.read(record.config_digest), layers,
                       list(record.names if names is None else names))


def tag_of(name: str) -> str:
    """The tag part of a stored name ("localhost/busybox:1.0" -> "1.0")."""
    return parse_reference(name).tag or "latest"


@contextlib.contextmanager
def unpacked_archive(store: Store, path: str) -> Iterator[str]:
    """A tar archive (any compression) unpacked safely into a temporary directory of the store."""
    with tempfile.TemporaryDirectory(prefix=f"{os.getpid()}-archive-", dir=store.temp_dir) as directory:
        try:
            with open(path, "rb") as archive:
                extract_tar(archive, directory, Whiteouts.KEEP_AS_FILES)
        except ArchiveError as failure:
            raise ArchiveError(f"{path}: {failure}") from None
        yield directory


class Transport(abc.ABC):
    """Images to and from one kind of location (`<prefix>:<location>`)."""

    @abc.abstractmethod
    def export(self, store: Store, images: list[StoredImage], location: str, options: TransportOptions) -> None:
        """Write the images to `location`."""

    @abc.abstractmethod
    def import_images(self, store: Store, location: str, options: TransportOptions) -> list[ImageRecord]:
        """Read the image(s) at `location` into the store."""
