"""Resolve a path inside a root directory as a chroot would: symlinks never lead out."""

from __future__ import annotations

import os
import stat

from bb.errors import ArchiveError

# Linux's own limit on symlinks followed in one lookup (MAXSYMLINKS).
MAX_SYMLINK_HOPS = 40


def clean_relative(path: str) -> str:
    """Normalise an archive/container path to a root-relative form, refusing `..` escapes."""
    parts: list[str] = []
    for part in path.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise ArchiveError(f'path "{path}" escapes the root')
        parts.append(part)
    return "/".join(parts)


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
