"""Mount and unmount through mount(8), and read the kernel's mount table."""

from __future__ import annotations

import os
import re

from bb.errors import ToolFailed
from bb.system.tools import run_tool


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
    """mount(8) `source` on `target`; relative paths in options resolve against `cwd`."""
    args = []
    if fstype:
        args += ["-t", fstype]
    if options:
        args += ["-o", options]
    run_tool("mount", *args, source, target, cwd=cwd)


def unmount(target: str, lazy: bool = False) -> None:
    """umount(8) `target` if mounted (lazily detached when `lazy`)."""
    if not is_mounted(target):
        return
    try:
        run_tool("umount", *(["-l"] if lazy else []), target)
    except ToolFailed:
        if is_mounted(target):
            raise


def unmount_all_under(prefix: str) -> None:
    """Unmount everything at or below `prefix`."""
    for point in mounts_under(prefix):
        unmount(point, lazy=True)
