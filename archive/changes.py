"""What changed between a layer's tree and its parent's: the one definition every driver uses.

Drivers differ in how they see a layer (an overlay upper directory holding only
what changed, or a full tree beside its parent's), but the list of changes, and
so the layer tar and its digest, must be the same for the same steps.
"""

from __future__ import annotations

import enum
import os
import stat
from dataclasses import dataclass

# Overlayfs marks deletions with a 0/0 character device and a directory that
# hides everything below it with this xattr.
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"


class ChangeKind(enum.Enum):
    """How a path differs from the parent tree."""

    ADD = "A"
    MODIFY = "C"
    DELETE = "D"


@dataclass(frozen=True)
class Change:
    """One changed path, relative to the root, `/`-separated."""

    path: str
    kind: ChangeKind


def layer_xattrs(path: str) -> dict[str, bytes]:
    """The xattrs of `path` that belong in a layer (not overlay's own, not SELinux labels)."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    kept = {}
    for name in names:
        if (
            name.startswith(("trusted.overlay.", "user.overlay.", "system."))
            or name == "security.selinux"
        ):
            continue
        try:
            kept[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
    return kept


def is_overlay_whiteout(info: os.stat_result) -> bool:
    """Whether a stat result is overlayfs's deletion marker."""
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == 0


def is_overlay_opaque(path: str) -> bool:
    """Whether a directory in an overlay upper layer hides the lower layers' contents."""
    try:
        return os.getxattr(path, OVERLAY_OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def entry_differs(
    child_path: str, child: os.stat_result, parent_path: str, parent: os.stat_result
) -> bool:
    """Whether an entry differs from the parent's entry at the same path.

    Type, permissions, owner, device number, link target and xattrs always
    count; for non-directories so do size and mtime (contents are not read).
    """
    if stat.S_IFMT(child.st_mode) != stat.S_IFMT(parent.st_mode):
        return True
    if (child.st_mode, child.st_uid, child.st_gid) != (
        parent.st_mode,
        parent.st_uid,
        parent.st_gid,
    ):
        return True
    if child.st_mtime_ns != parent.st_mtime_ns:
        return True
    if not stat.S_ISDIR(child.st_mode) and child.st_size != parent.st_size:
        return True
    if (
        stat.S_ISCHR(child.st_mode) or stat.S_ISBLK(child.st_mode)
    ) and child.st_rdev != parent.st_rdev:
        return True
    if stat.S_ISLNK(child.st_mode) and os.readlink(child_path) != os.readlink(parent_path):
        return True
    return layer_xattrs(child_path) != layer_xattrs(parent_path)


def _lstat_or_none(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _list_names(path: str | None) -> list[str]:
    if path is None:
        return []
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []


def tree_changes(
    child_root: str,
    parent_root: str | None,
    *,
    overlay_upper: bool = False,
    same_filesystem_snapshot: bool = False,
) -> list[Change]:
    """The changes that turn the tree at `parent_root` into the tree at `child_root`.

    With overlay_upper, `child_root` is an overlayfs upper directory: it holds
    only what changed, deletions are whiteouts, and opaque directories hide
    the parent's contents below them. Otherwise both are complete trees.

    With same_filesystem_snapshot (a block-level snapshot), an entry whose
    inode number and ctime are both unchanged is untouched: nothing can change
    a file without updating its ctime, so no xattrs need to be read.
    """
    changes: list[Change] = []
    # (relative directory, whether the child directory only overlays the parent's)
    pending: list[tuple[str, bool]] = [("", overlay_upper)]
    while pending:
        directory, merging = pending.pop()
        child_dir = os.path.join(child_root, directory)
        parent_dir = os.path.join(parent_root, directory) if parent_root is not None else None
        if merging and directory and is_overlay_opaque(child_dir):
            merging = False
        parent_names = set(_list_names(parent_dir))
        child_names = set()
        for name in sorted(os.listdir(child_dir)):
            path = f"{directory}/{name}" if directory else name
            child_path = os.path.join(child_dir, name)
            child = os.lstat(child_path)
            if merging and is_overlay_whiteout(child):
                if name in parent_names:
                    changes.append(Change(path, ChangeKind.DELETE))
                continue
            child_names.add(name)
            parent_path = os.path.join(parent_dir, name) if parent_dir is not None else ""
            parent = _lstat_or_none(parent_path) if name in parent_names else None
            if parent is None:
                changes.append(Change(path, ChangeKind.ADD))
            elif same_filesystem_snapshot and (child.st_ino, child.st_ctime_ns) == (
                parent.st_ino,
                parent.st_ctime_ns,
            ):
                pass
            elif entry_differs(child_path, child, parent_path, parent):
                changes.append(Change(path, ChangeKind.MODIFY))
            if stat.S_ISDIR(child.st_mode):
                parent_is_dir = parent is not None and stat.S_ISDIR(parent.st_mode)
                pending.append((path, merging and parent_is_dir))
        if not merging:
            for name in sorted(parent_names - child_names):
                path = f"{directory}/{name}" if directory else name
                changes.append(Change(path, ChangeKind.DELETE))
    changes.sort(key=lambda change: change.path.split("/"))
    return changes
