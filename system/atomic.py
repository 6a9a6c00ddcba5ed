"""Crash-safe file writes: temp file + fsync + rename, so readers see old or new, never half."""

from __future__ import annotations

import json
import os
import shutil
import stat
from typing import Any


def fsync_directory(path: str) -> None:
    """Make a rename or unlink inside `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` atomically."""
    directory = os.path.dirname(path) or "."
    # what tempfile.mkstemp does, without the ~2 ms of importing it (random, hashlib)
    temp_path = os.path.join(directory, f".tmp-{os.urandom(6).hex()}")
    fd = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as temp_file:
            temp_file.write(data)
            temp_file.flush()
            os.fchmod(temp_file.fileno(), mode)
            os.fsync(temp_file.fileno())
        os.rename(temp_path, path)
    except BaseException:
        try:
            os.unlink(temp_path)
        except FileNotFoundError:
            pass
        raise
    fsync_directory(directory)


def canonical_json(value: Any) -> bytes:
    """Serialize `value` deterministically (sorted keys, no spaces): digests depend on it."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def write_json_atomic(path: str, value: Any, mode: int = 0o600) -> None:
    """Replace `path` with `value` as JSON, atomically."""
    write_atomic(path, json.dumps(value, indent=1, sort_keys=True).encode() + b"\n", mode)


def read_json(path: str) -> Any:
    """Read a JSON file."""
    with open(path, "rb") as json_file:
        return json.load(json_file)


def remove_file(path: str) -> None:
    """Unlink `path` if it exists."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def remove_entry(path: str) -> None:
    """Delete a file, link or whole directory tree, if it exists."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)
