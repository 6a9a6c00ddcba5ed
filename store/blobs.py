"""Content-addressed blobs (layer tars, image configs, manifests) under `<root>/blobs/sha256/`."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from bb.errors import StoreError
from bb.system.atomic import fsync_directory, remove_file
from bb.system.digests import DigestingWriter


def split_digest(digest: str) -> tuple[str, str]:
    """("sha256", hex) from "sha256:hex", refusing anything else."""
    algorithm, _, encoded = digest.partition(":")
    if (
        algorithm != "sha256"
        or len(encoded) != 64
        or not all(c in "0123456789abcdef" for c in encoded)
    ):
        raise StoreError(f'invalid digest "{digest}"')
    return algorithm, encoded


class BlobStore:
    """Blobs named by their sha256 digest; written via a temp file and renamed into place."""

    def __init__(self, root: str, temp_dir: str):
        self.directory = os.path.join(root, "sha256")
        self.temp_dir = temp_dir
        for directory in (root, self.directory):
            os.makedirs(directory, mode=0o700, exist_ok=True)

    def path(self, digest: str) -> str:
        """Where the blob with `digest` lives."""
        return os.path.join(self.directory, split_digest(digest)[1])

    def has(self, digest: str) -> bool:
        """Whether the blob is stored."""
        return os.path.exists(self.path(digest))

    def open(self, digest: str) -> BinaryIO:
        """Open a stored blob for reading."""
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise StoreError(f"blob {digest} is missing from the store") from None

    def read(self, digest: str) -> bytes:
        """A small stored blob's bytes."""
        with self.open(digest) as blob:
            return blob.read()

    def size(self, digest: str) -> int:
        """A stored blob's size in bytes."""
        return os.path.getsize(self.path(digest))

    def put(self, data: bytes) -> str:
        """Store `data`; return its digest."""
        with self.writer() as writer:
            writer.write(data)
        return writer.digest

    @contextlib.contextmanager
    def writer(self) -> Iterator[DigestingWriter]:
        """A stream whose contents become a blob when the block ends without error."""
        fd, temp_path = tempfile.mkstemp(prefix=f"{os.getpid()}-blob-", dir=self.temp_dir)
        try:
            with os.fdopen(fd, "wb") as temp_file:
                writer = DigestingWriter(temp_file)
                yield writer
                temp_file.flush()
                os.fsync(temp_file.fileno())
            os.chmod(temp_path, 0o600)
            os.rename(temp_path, self.path(writer.digest))
            fsync_directory(self.directory)
        finally:
            remove_file(temp_path)

    def remove(self, digest: str) -> None:
        """Delete a blob."""
        remove_file(self.path(digest))

    def list(self) -> list[str]:
        """Digests of every stored blob."""
        return ["sha256:" + name for name in os.listdir(self.directory) if not name.startswith(".")]
