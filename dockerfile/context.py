"""Reading a build context's own files (the Dockerfile, .dockerignore): regular, bounded, inside it.

A Dockerfile inside the context that is a symlink leading out of it is refused
rather than followed: a context is often someone else's checkout, and its
Dockerfile must not read the host's files (or /proc/self/environ) for them.
"""

from __future__ import annotations

import os
import stat

from bb.errors import DockerfileError, InvalidArgument
from bb.system.limits import read_at_most

# Kernel pseudo-files report themselves as regular files of size 0 and hold host state.
_PSEUDO_FILESYSTEMS = ("/proc", "/sys")


def _is_within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _pseudo_devices() -> set[int]:
    devices = set()
    for mount_point in _PSEUDO_FILESYSTEMS:
        try:
            devices.add(os.stat(mount_point).st_dev)
        except OSError:
            continue
    return devices


def read_build_file(path: str, name: str, limit: int, context_dir: str | None = None) -> bytes:
    """The contents of `path` (shown as `name` in errors), at most `limit` bytes.

    With `context_dir`, a `path` inside the context must resolve inside it. Only
    regular files are read, never waited on: FIFOs, devices, directories and
    /proc or /sys files are refused before anything is read from them.
    """
    real = os.path.realpath(path)
    inside = context_dir is not None and _is_within(
        os.path.abspath(path), os.path.abspath(context_dir)
    )
    if inside and not _is_within(real, os.path.realpath(context_dir or "")):
        raise DockerfileError(name, 0, "is a symbolic link leading out of the build context")
    try:
        # stat before open: opening a device or FIFO can block or have side effects
        if not stat.S_ISREG(os.stat(real).st_mode):
            raise DockerfileError(name, 0, "not a regular file")
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with open(fd, "rb") as source:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_dev in _pseudo_devices():
                raise DockerfileError(name, 0, "not a regular file")
            if info.st_size > limit:
                raise DockerfileError(
                    name, 0, f"file is {info.st_size} bytes; the limit is {_size(limit)}"
                )
            return read_at_most(source, limit, name, InvalidArgument)
    except InvalidArgument:
        raise DockerfileError(
            name, 0, f"file grew past the limit of {_size(limit)} while read"
        ) from None
    except OSError as failure:
        raise DockerfileError(name, 0, f"cannot read: {failure.strerror}") from None


def _size(limit: int) -> str:
    return f"{limit} bytes ({limit / (1 << 20):g} MiB)"
