"""Setting owner, mode, xattrs and times on created entries, and keeping directory times."""

from __future__ import annotations

import os
import shutil
import stat


def apply_metadata(
    path: str,
    uid: int,
    gid: int,
    mode: int,
    xattrs: dict[str, bytes] | None = None,
    mtime: float | None = None,
) -> None:
    """Set owner, mode (after chown, which clears setuid bits), xattrs and optionally mtime."""
    is_link = stat.S_ISLNK(os.lstat(path).st_mode)
    os.chown(path, uid, gid, follow_symlinks=False)
    if not is_link:
        os.chmod(path, stat.S_IMODE(mode))
    for name, value in (xattrs or {}).items():
        os.setxattr(path, name, value, follow_symlinks=False)
    if mtime is not None:
        os.utime(path, (mtime, mtime), follow_symlinks=False)


class DirectoryTimes:
    """Remembers directories' times before entries are added or removed, to restore them after.

    Creating or deleting an entry bumps its directory's mtime; a layer or a
    copy must not show a directory as changed just because of that.
    """

    def __init__(self) -> None:
        self._saved: dict[str, tuple[int, int]] = {}
        self._fixed: dict[str, tuple[int, int]] = {}
        # the (device, inode) each path led to when recorded: comparing identities costs one
        # lstat, where resolving the path again would cost one per component (cubic in depth)
        self._identity: dict[str, tuple[int, int]] = {}

    def remember(self, directory: str) -> None:
        """Record `directory`'s current times unless already recorded."""
        if directory in self._saved or directory in self._fixed:
            return
        try:
            info = os.lstat(directory)
        except FileNotFoundError:
            return
        self._saved[directory] = (info.st_atime_ns, info.st_mtime_ns)
        self._identity[directory] = (info.st_dev, info.st_ino)

    def set_later(self, directory: str, mtime_ns: int) -> None:
        """Give `directory` this mtime at the end, whatever happens inside it meanwhile."""
        self._fixed[directory] = (mtime_ns, mtime_ns)
        self._saved.pop(directory, None)
        info = os.lstat(directory)
        self._identity[directory] = (info.st_dev, info.st_ino)

    def restore(self) -> None:
        """Put back every recorded time, deepest directories first."""
        times = {**self._saved, **self._fixed}
        for directory in sorted(times, key=lambda path: path.count("/"), reverse=True):
            # A later entry may have replaced the directory or one of its parents (by a file, or by
            # a symlink leading anywhere, even out of the root): then there is nothing to restore.
            try:
                info = os.lstat(directory)
                same = (info.st_dev, info.st_ino) == self._identity[directory]
                if same and stat.S_ISDIR(info.st_mode):
                    os.utime(directory, ns=times[directory], follow_symlinks=False)
            except OSError:  # gone, or behind a symlink loop
                continue


def copy_tree_as_is(source: str, target: str) -> None:
    """Copy the tree `source` into the existing directory `target`: every entry with its owner,
    mode and times (symlinks as links, device nodes and FIFOs as nodes; sockets are skipped)."""
    for current, dirnames, filenames in os.walk(source):
        below = os.path.relpath(current, source)
        target_current = target if below == "." else os.path.join(target, below)
        for name in [*dirnames, *filenames]:
            entry, copy = os.path.join(current, name), os.path.join(target_current, name)
            info = os.lstat(entry)
            if stat.S_ISDIR(info.st_mode):
                os.mkdir(copy, 0o700)
            elif stat.S_ISREG(info.st_mode):
                shutil.copyfile(entry, copy, follow_symlinks=False)
            elif stat.S_ISLNK(info.st_mode):
                os.symlink(os.readlink(entry), copy)
            elif (
                stat.S_ISCHR(info.st_mode)
                or stat.S_ISBLK(info.st_mode)
                or stat.S_ISFIFO(info.st_mode)
            ):
                os.mknod(copy, info.st_mode, info.st_rdev)
            else:
                continue
            apply_metadata(copy, info.st_uid, info.st_gid, info.st_mode)
    # times last: filling a directory changes its mtime
    for current, dirnames, filenames in os.walk(target, topdown=False):
        for name in [*dirnames, *filenames]:
            copy = os.path.join(current, name)
            info = os.lstat(os.path.join(source, os.path.relpath(copy, target)))
            os.utime(copy, ns=(info.st_atime_ns, info.st_mtime_ns), follow_symlinks=False)
