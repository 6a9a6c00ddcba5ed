"""Recognising and undoing the compressions image layers and archives come in."""

from __future__ import annotations

import bz2
import gzip
import lzma
from typing import BinaryIO

from bb.errors import ArchiveError

_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}


def compression_of(head: bytes) -> str | None:
    """ "gzip", "bzip2", "xz", "zstd" or None (uncompressed), from a stream's first bytes."""
    for magic, name in _MAGIC.items():
        if head.startswith(magic):
            return name
    return None


class _Prefixed:
    """A read-only stream that gives back bytes already read from it first."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self.head = head
        self.rest = rest

    def read(self, size: int = -1) -> bytes:
        if self.head:
            if size < 0:
                data, self.head = self.head + self.rest.read(), b""
                return data
            data, self.head = self.head[:size], self.head[size:]
            if len(data) < size:
                data += self.rest.read(size - len(data))
            return data
        return self.rest.read(size)

    def readable(self) -> bool:
        return True


def decompressed(stream: BinaryIO) -> BinaryIO:
    """`stream` uncompressed, whatever of gzip, bzip2 and xz it was in."""
    head = stream.read(6)
    kind = compression_of(head)
    source = _Prefixed(head, stream)
    if kind is None:
        return source  # type: ignore[return-value]
    if kind == "gzip":
        return gzip.GzipFile(fileobj=source, mode="rb")  # type: ignore[call-overload]
    if kind == "bzip2":
        return bz2.BZ2File(source, mode="rb")  # type: ignore[call-overload]
    if kind == "xz":
        return lzma.LZMAFile(source, mode="rb")  # type: ignore[arg-type,return-value]
    raise ArchiveError("zstd-compressed layers are not supported")
