"""SHA-256 digests in the `sha256:<hex>` form image formats use.

hashlib is imported on first use: loading OpenSSL costs ~4 ms, a few percent of a step
command (`bb config`, `copy`, `run`) that never hashes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, BinaryIO


def sha256(data: bytes = b"") -> Any:
    """A hashlib SHA-256 object, fed `data`."""
    import hashlib

    return hashlib.sha256(data)


def digest_of(data: bytes) -> str:
    """`sha256:<hex>` of `data`."""
    return "sha256:" + sha256(data).hexdigest()


class DigestingWriter:
    """A write-only file object that hashes (sha256) and counts what passes through."""

    def __init__(self, target: BinaryIO):
        self.target = target
        self.size = 0
        self._sha256 = sha256()
        #: told the size of each write (a progress bar)
        self.observer: Callable[[int], None] | None = None

    def write(self, data: bytes) -> int:
        """Hash and forward `data`."""
        self._sha256.update(data)
        self.size += len(data)
        if self.observer is not None:
            self.observer(len(data))
        return self.target.write(data)

    def flush(self) -> None:
        """Flush the target."""
        self.target.flush()

    def tell(self) -> int:
        """Bytes written so far (tarfile asks)."""
        return self.size

    @property
    def digest(self) -> str:
        """`sha256:<hex>` of everything written."""
        return "sha256:" + self._sha256.hexdigest()
