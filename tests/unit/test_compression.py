"""Layer compression: the same bytes whatever the thread count, and readable back."""

import hashlib
import io
import os
import random

import pytest

from bb.archive.compression import (
    BLOCK_SIZE,
    Compression,
    compress_stream,
    decompressed,
    parse_compression,
)
from bb.errors import InvalidArgument


def _layer_like() -> bytes:
    """Several blocks of random bytes and text: what a layer holds."""
    text = b"".join(b"line %d of some file\n" % n for n in range(200_000))
    noise = random.Random(7).randbytes(3 * BLOCK_SIZE + 12345)
    return noise + text + noise[:BLOCK_SIZE]


def _compressed(data: bytes, compression: Compression, threads: int) -> bytes:
    output = io.BytesIO()
    compress_stream(io.BytesIO(data), output, compression, threads)
    return output.getvalue()


@pytest.mark.parametrize(
    "compression", [Compression(), Compression("gzip", 1), Compression("zstd", 3)], ids=str
)
def test_same_bytes_on_any_number_of_threads_and_every_time(compression):
    data = _layer_like()
    digests = {
        hashlib.sha256(_compressed(data, compression, threads)).hexdigest()
        for threads in (1, 1, 2, 3, max(4, len(os.sched_getaffinity(0))))
    }
    assert len(digests) == 1
    blob = _compressed(data, compression, 2)
    assert len(blob) < len(data)
    assert decompressed(io.BytesIO(blob)).read() == data


def test_levels_change_the_bytes_and_are_checked():
    data = _layer_like()
    assert _compressed(data, Compression("gzip", 1), 2) != _compressed(
        data, Compression("gzip", 9), 2
    )
    assert parse_compression(None, None) == Compression("gzip", 6)
    assert parse_compression("zstd", 19) == Compression("zstd", 19)
    with pytest.raises(InvalidArgument, match="gzip or zstd"):
        parse_compression("lz4", None)
    with pytest.raises(InvalidArgument, match="1 to 9"):
        parse_compression("gzip", 10)


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_corrupt_data_is_an_os_error(kind):
    blob = bytearray(_compressed(_layer_like(), Compression(kind), 2))
    blob[len(blob) // 2 : len(blob) // 2 + 64] = bytes(64)
    with pytest.raises((OSError, EOFError)):
        stream = decompressed(io.BytesIO(bytes(blob)))
        while stream.read(1 << 20):
            pass
