"""Each layer's compressed forms as pushed to registries: small files under `<root>/compressed/`.

A record, named by the layer's diff ID and the compression (`HEX.gzip-6.json`), holds the
compressed digest and size and the repositories the layer was pushed to, so a later push finds
what a registry already has with one HEAD request (or mounts it from another repository)
instead of sending it again.
Garbage collection drops the records of layers no longer stored.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from bb.archive.compression import Compression, compress_stream
from bb.system.atomic import read_json, remove_file, write_json_atomic
from bb.system.digests import DigestingWriter

if TYPE_CHECKING:
    from bb.store.store import Store


def _record_name(diff_id: str, compression: Compression) -> str:
    return f"{diff_id.split(':', 1)[1]}.{compression.name}.json"


class CompressedLayers:
    """Each layer's compressed forms: digest and size, recorded so pushes can skip what
    registries have."""

    def __init__(self, store: Store):
        self.store = store
        self.directory = store.compressed_dir
        os.makedirs(self.directory, mode=0o700, exist_ok=True)

    def _record_path(self, diff_id: str, compression: Compression) -> str:
        return os.path.join(self.directory, _record_name(diff_id, compression))

    def known(self, diff_id: str, compression: Compression) -> dict | None:
        """{"digest", "size", "repositories"} of a layer compressed so before, if any."""
        try:
            return read_json(self._record_path(diff_id, compression))
        except FileNotFoundError:
            return None

    def remember(self, diff_id: str, compression: Compression, record: dict) -> None:
        """Save a layer's compressed digest, size and where it was pushed (if still stored)."""
        # under the store lock: garbage collection drops the records of layers it deleted
        with self.store.lock():
            if any(layer.diff_id == diff_id for layer in self.store.layers.list()):
                write_json_atomic(self._record_path(diff_id, compression), record)

    @contextmanager
    def compressed(self, diff_id: str, compression: Compression) -> Iterator[tuple[str, str, int]]:
        """(path, digest, size) of the layer compressed into a temporary file."""
        fd, path = tempfile.mkstemp(
            prefix=f"{os.getpid()}-{compression.format}-", dir=self.store.temp_dir
        )
        try:
            with os.fdopen(fd, "wb") as output:
                hashing = DigestingWriter(output)  # type: ignore[arg-type]
                with self.store.blobs.open(diff_id) as layer:
                    compress_stream(layer, hashing, compression)  # type: ignore[arg-type]
            yield path, hashing.digest, hashing.size
        finally:
            os.unlink(path)


def prune_compressed_layers(directory: str, diff_ids: set[str]) -> None:
    """Remove the records (and dead writers' temp files) of layers not in `diff_ids`.

    Call under the store lock, which every writer holds.
    """
    if not os.path.isdir(directory):
        return
    kept = {diff_id.split(":", 1)[1] for diff_id in diff_ids}
    for name in os.listdir(directory):
        if name.split(".", 1)[0] not in kept:
            remove_file(os.path.join(directory, name))
