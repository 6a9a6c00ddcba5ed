"""Recognising, undoing and applying the compressions image layers and archives come in.

Layers are compressed with ISA-L's igzip (python-isal) on every core, or zstd. The output of
both depends on the input, the level and the fixed block size only, never on how many threads
compress it: registries deduplicate by digest, and a `--timestamp` build must push the same
blobs on every machine. The (de)compressors are imported when used: a step command needs none.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from bb.errors import InvalidArgument

_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}

GZIP = "gzip"
ZSTD = "zstd"
# the levels users give, as buildah/podman take them (Go's gzip 1-9, zstd's 1-22), and the default
_LEVELS = {GZIP: (1, 9, 6), ZSTD: (1, 22, 3)}
# The unit each compressing thread takes: part of what the compressed bytes depend on, so fixed.
BLOCK_SIZE = 1 << 20


@dataclass(frozen=True)
class Compression:
    """How to compress a layer: a format and its level (in the user's scale)."""

    format: str = GZIP
    level: int = _LEVELS[GZIP][2]

    @property
    def name(self) -> str:
        """`gzip-6`, `zstd-3`: what the compressed bytes depend on besides the input."""
        return f"{self.format}-{self.level}"


def parse_compression(format: str | None, level: int | None) -> Compression:
    """`--compression-format` and `--compression-level` as a Compression, checked."""
    chosen = format or GZIP
    if chosen not in _LEVELS:
        raise InvalidArgument(f'--compression-format "{chosen}": must be gzip or zstd')
    low, high, default = _LEVELS[chosen]
    if level is None:
        return Compression(chosen, default)
    if not low <= level <= high:
        raise InvalidArgument(f"--compression-level {level}: {chosen} levels are {low} to {high}")
    return Compression(chosen, level)


def _cores() -> int:
    return len(os.sched_getaffinity(0))


@contextlib.contextmanager
def compressing(
    output: BinaryIO, compression: Compression, threads: int | None = None
) -> Iterator[BinaryIO]:
    """A writable stream compressing into `output` on `threads` threads (default: every core)."""
    threads = threads or _cores()
    if compression.format == ZSTD:
        import zstandard

        # with threads >= 1 zstd cuts the input into jobs of a size fixed by the level, so the
        # frame is the same for any count (threads=0, in-line compression, would differ)
        # with a checksum, as containers/image writes them: corruption is found on reading
        compressor = zstandard.ZstdCompressor(
            level=compression.level, threads=threads, write_checksum=True
        )
        with compressor.stream_writer(output, closefd=False) as writer:
            yield writer  # type: ignore[misc]
        return
    from isal import igzip_threaded

    # igzip's levels are 0-3 (3 the smallest); Go's 1-9 map onto 1-3, so the default 6 is
    # igzip's own default, 2. Each block is compressed with the previous one's last 32 KiB as
    # its dictionary (as pigz does), whichever thread takes it.
    level = (compression.level + 2) // 3
    with igzip_threaded.open(
        output, "wb", compresslevel=level, threads=threads, block_size=BLOCK_SIZE
    ) as writer:
        yield writer


# how much of the input is read at a time while compressing it
_READ_SIZE = 8 << 20


def compress_stream(
    source: BinaryIO, output: BinaryIO, compression: Compression, threads: int | None = None
) -> None:
    """Compress all of `source` into `output` (see compressing)."""
    with compressing(output, compression, threads) as writer:
        for chunk in iter(lambda: source.read(_READ_SIZE), b""):
            writer.write(chunk)


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

    def readinto(self, buffer: bytearray | memoryview) -> int:
        """Fill `buffer` from the stream (igzip reads this way)."""
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True


class _Translating:
    """A decompressing stream whose own error types (IsalError, ZstdError) become OSError,
    which readers of compressed data already handle as they do gzip's and lzma's."""

    def __init__(self, stream: Any, errors: tuple[Any, ...], what: str):
        self.stream = stream
        self.errors = errors
        self.what = what

    def read(self, size: int = -1) -> bytes:
        try:
            return self.stream.read(size)
        except self.errors as failure:
            raise OSError(f"{self.what}: {failure}") from None

    def readable(self) -> bool:
        return True


def decompressed(stream: BinaryIO) -> BinaryIO:
    """`stream` uncompressed, whatever of gzip, bzip2, xz and zstd it was in."""
    head = stream.read(6)
    kind = compression_of(head)
    source = _Prefixed(head, stream)
    if kind is None:
        return source  # type: ignore[return-value]
    if kind == "gzip":
        # ISA-L inflates about three times as fast as zlib
        from isal import igzip, igzip_lib

        gunzip = igzip.IGzipFile(fileobj=source, mode="rb")  # type: ignore[arg-type]
        return _Translating(gunzip, (igzip_lib.IsalError,), "gzip")  # type: ignore[return-value]
    if kind == "bzip2":
        import bz2

        return bz2.BZ2File(source, mode="rb")  # type: ignore[call-overload]
    if kind == "xz":
        import lzma

        return lzma.LZMAFile(source, mode="rb")  # type: ignore[arg-type,return-value]
    import zstandard

    # read_across_frames: a layer may be several frames, as a zstd file may
    unzstd = zstandard.ZstdDecompressor().stream_reader(
        source,  # type: ignore[arg-type]
        read_across_frames=True,
        closefd=False,
    )
    return _Translating(unzstd, (zstandard.ZstdError,), "zstd")  # type: ignore[return-value]
