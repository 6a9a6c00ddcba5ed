"""Resolve a path inside a root directory as a chroot would: symlinks never lead out."""

from __future__ import annotations

import os
import posixpath
import stat
from typing import BinaryIO

from bb.errors import ArchiveError

# Linux's own limit on symlinks followed in one lookup (MAXSYMLINKS).
MAX_SYMLINK_HOPS = 40


def clean_relative(path: str) -> str:
    """Normalise an archive/container path to a root-relative form, refusing `..` escapes."""
    parts = [part for part in path.replace("\\", "/").split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f'path "{path}" escapes the root')
    return "/".join(parts)


def clean_absolute(path: str) -> str:
    """`path` (relative to `/`) made absolute, `.` and `..` applied to the text (`..` stops at `/`).

    This is how buildah and docker read a COPY destination: `/link/..` is `/` whatever `/link`
    points to.
    """
    return "/" + posixpath.normpath("/" + path).lstrip("/")


def resolve_in_root(root: str, path: str, follow_final: bool = True) -> str:
    """Return the host path for `path` inside `root`, following symlinks scoped to `root`.

    `..` and absolute symlink targets are clamped at `root`, so the result is
    always `root` or below it. With follow_final=False the last component is
    not dereferenced (what an extractor replacing that entry needs).
    """
    root = os.path.abspath(root)
    pending = [part for part in path.split("/") if part not in ("", ".")]
    pending.reverse()
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.pop()
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        is_final = not pending
        if is_final and not follow_final:
            resolved.append(part)
            break
        try:
            info = os.lstat(candidate)
        except (FileNotFoundError, NotADirectoryError):
            resolved.append(part)
            continue
        if not stat.S_ISLNK(info.st_mode):
            resolved.append(part)
            continue
        hops += 1
        if hops > MAX_SYMLINK_HOPS:
            raise ArchiveError(f'too many levels of symbolic links resolving "{path}"')
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved = []
        pending.extend(reversed([p for p in target.split("/") if p not in ("", ".")]))
    return os.path.join(root, *resolved)


def open_in_root(root: str, path: str, what: str) -> BinaryIO:
    """Open the regular file `path` inside `root` for reading, symlinks scoped to `root`.

    Every component is opened without following symlinks, so nothing swapped in meanwhile
    leads out; a FIFO, device or directory is refused before it is opened (a FIFO would block,
    a device could read forever), and checked again once open."""
    relative = os.path.relpath(resolve_in_root(root, clean_relative(path)), os.path.abspath(root))
    *directories, name = relative.split("/")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in directories:
            flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
            parent, fd = fd, os.open(part, flags, dir_fd=fd)
            os.close(parent)
        if not stat.S_ISREG(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
            raise ArchiveError(f"{what} is not a regular file")
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        parent, fd = fd, os.open(name, flags, dir_fd=fd)
        os.close(parent)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ArchiveError(f"{what} is not a regular file")
    except (FileNotFoundError, NotADirectoryError):
        os.close(fd)
        raise ArchiveError(f"{what} is missing") from None
    except OSError as failure:  # a symlink swapped in (ELOOP), no permission
        os.close(fd)
        raise ArchiveError(f"{what}: {failure.strerror}") from None
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")
