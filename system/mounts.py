"""Mount and unmount with the mount(2) and umount2(2) system calls; read the kernel's mount table.

The calls are made directly, as containers-storage does, not through mount(8): running mount and
umount through `sh` cost a `bb run` or `bb copy` about 40 ms of its ~150 ms budget.
"""

from __future__ import annotations

import functools
import os
import re
from typing import Any

from bb.errors import DriverError

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_DIRSYNC = 0x80
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000
MS_LAZYTIME = 0x2000000
MNT_DETACH = 0x2

# mount(8) options that are mount(2) flags: option -> (flag, whether it sets or clears the flag).
# Every other option belongs to the filesystem and is passed on in the data string.
FLAG_OPTIONS = {
    "defaults": (0, True),
    "ro": (MS_RDONLY, True),
    "rw": (MS_RDONLY, False),
    "nosuid": (MS_NOSUID, True),
    "suid": (MS_NOSUID, False),
    "nodev": (MS_NODEV, True),
    "dev": (MS_NODEV, False),
    "noexec": (MS_NOEXEC, True),
    "exec": (MS_NOEXEC, False),
    "sync": (MS_SYNCHRONOUS, True),
    "async": (MS_SYNCHRONOUS, False),
    "dirsync": (MS_DIRSYNC, True),
    "noatime": (MS_NOATIME, True),
    "atime": (MS_NOATIME, False),
    "nodiratime": (MS_NODIRATIME, True),
    "diratime": (MS_NODIRATIME, False),
    "relatime": (MS_RELATIME, True),
    "norelatime": (MS_RELATIME, False),
    "strictatime": (MS_STRICTATIME, True),
    "lazytime": (MS_LAZYTIME, True),
    "nolazytime": (MS_LAZYTIME, False),
}


@functools.cache
def _libc() -> Any:
    """The C library, through ctypes (imported here: commands that never mount skip its ~2 ms)."""
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _errno_text() -> str:
    """What the last failed call through `_libc` said, in words."""
    import ctypes

    return os.strerror(ctypes.get_errno())


def split_mount_options(options: str) -> tuple[int, str]:
    """mount(8)-style `options` as (mount(2) flags, the filesystem's data string)."""
    flags, data = 0, []
    for option in filter(None, options.split(",")):
        if option in FLAG_OPTIONS:
            flag, sets = FLAG_OPTIONS[option]
            flags = flags | flag if sets else flags & ~flag
        else:
            data.append(option)
    return flags, ",".join(data)


def _unescape_mountinfo(field: str) -> str:
    """Undo mountinfo's octal escapes (space is \\040)."""
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), field)


def _mount_table() -> list[tuple[str, str]]:
    """(mount point, filesystem type) of every mount of this mount namespace, in mount order."""
    rows = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as table:
        for line in table:
            fields = line.split()
            rows.append((_unescape_mountinfo(fields[4]), fields[fields.index("-") + 1]))
    return rows


def mount_points() -> list[str]:
    """Every mount point of this mount namespace, in mount order."""
    return [point for point, _ in _mount_table()]


def filesystem_type(path: str) -> str:
    """The type of the filesystem holding `path` (the deepest mount containing it)."""
    path = os.path.realpath(path)
    best, best_type = "", "unknown"
    for point, fstype in _mount_table():
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, best_type = point, fstype
    return best_type


def is_mounted(path: str) -> bool:
    """Whether something is mounted exactly at `path`."""
    return os.path.realpath(path) in set(mount_points())


def mounts_under(prefix: str) -> list[str]:
    """Mount points at or below `prefix`, deepest first (the order to unmount them)."""
    prefix = os.path.realpath(prefix)
    found = [p for p in mount_points() if p == prefix or p.startswith(prefix + "/")]
    return sorted(set(found), key=lambda p: p.count("/"), reverse=True)


def mount(
    source: str,
    target: str,
    fstype: str | None = None,
    options: str = "",
    cwd: str | None = None,
) -> None:
    """Mount `source` on `target`; `options` as mount(8) takes them, relative paths from `cwd`."""
    flags, data = split_mount_options(options)
    # The kernel resolves relative paths in the data (overlay's lowerdir) against the working
    # directory; bb has no threads, so changing it for the call's duration affects nothing else.
    previous = os.open(".", os.O_RDONLY | os.O_DIRECTORY) if cwd else None
    try:
        if cwd:
            os.chdir(cwd)
        filesystem = os.fsencode(fstype) if fstype else None
        source_path, target_path = os.fsencode(source), os.fsencode(target)
        failed = _libc().mount(source_path, target_path, filesystem, flags, os.fsencode(data))
        if failed:
            raise DriverError(f"mount -t {fstype} -o {options} {source} {target}: {_errno_text()}")
    finally:
        if previous is not None:
            os.fchdir(previous)
            os.close(previous)


def unmount(target: str, lazy: bool = False) -> None:
    """Unmount `target` if mounted (lazily detached when `lazy`)."""
    if not is_mounted(target):
        return
    if _libc().umount2(os.fsencode(target), MNT_DETACH if lazy else 0) and is_mounted(target):
        raise DriverError(f"umount {target}: {_errno_text()}")
