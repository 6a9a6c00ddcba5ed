"""Write a layer as an OCI layer tar, deterministically, so equal trees give equal digests.

Entries are sorted by path; every changed path is preceded by its ancestor
directories with their real metadata (so a layer unpacked on its own, as
overlay does, shows correct directories); owner names are left empty and
mtimes truncated to whole seconds, or all set to one timestamp for
reproducible builds. Deletions become `.wh.<name>` whiteouts.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Iterable

from bb.archive.changes import Change, ChangeKind, layer_xattrs
from bb.system.digests import DigestingWriter

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"
COPY_BUFFER = 1 << 20


def _with_ancestors(changes: Iterable[Change]) -> list[tuple[str, bool]]:
    """(path, is_deletion) for every change plus the directories above it, in tar order."""
    entries: dict[str, bool] = {}
    for change in changes:
        parts = change.path.split("/")
        for depth in range(1, len(parts)):
            entries.setdefault("/".join(parts[:depth]), False)
        entries[change.path] = change.kind is ChangeKind.DELETE
    return sorted(entries.items(), key=lambda item: item[0].split("/"))


def _tar_info(
    name: str, host_path: str, info: os.stat_result, timestamp: int | None
) -> tarfile.TarInfo | None:
    """A TarInfo for one file system entry, or None for what layers do not carry (sockets)."""
    entry = tarfile.TarInfo(name)
    entry.mode = stat.S_IMODE(info.st_mode)
    entry.uid, entry.gid = info.st_uid, info.st_gid
    entry.uname = entry.gname = ""
    entry.mtime = timestamp if timestamp is not None else int(info.st_mtime_ns // 1_000_000_000)
    if stat.S_ISREG(info.st_mode):
        entry.type, entry.size = tarfile.REGTYPE, info.st_size
    elif stat.S_ISDIR(info.st_mode):
        entry.type = tarfile.DIRTYPE
        entry.name = name + "/"
    elif stat.S_ISLNK(info.st_mode):
        entry.type, entry.linkname = tarfile.SYMTYPE, os.readlink(host_path)
    elif stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
        entry.type = tarfile.CHRTYPE if stat.S_ISCHR(info.st_mode) else tarfile.BLKTYPE
        entry.devmajor, entry.devminor = os.major(info.st_rdev), os.minor(info.st_rdev)
    elif stat.S_ISFIFO(info.st_mode):
        entry.type = tarfile.FIFOTYPE
    else:
        return None
    for key, value in sorted(layer_xattrs(host_path).items()):
        # typeshed calls pax_headers a Mapping; tarfile makes it a dict
        entry.pax_headers["SCHILY.xattr." + key] = value.decode("utf-8", "surrogateescape")  # type: ignore[index]
    return entry


def _whiteout_info(path: str, timestamp: int | None) -> tarfile.TarInfo:
    """The `.wh.` entry that deletes `path`."""
    parent, _, name = path.rpartition("/")
    entry = tarfile.TarInfo(
        f"{parent}/{WHITEOUT_PREFIX}{name}" if parent else WHITEOUT_PREFIX + name
    )
    entry.mode = 0o644
    entry.uname = entry.gname = ""
    entry.mtime = timestamp if timestamp is not None else 0
    return entry


def write_layer_tar(
    output: DigestingWriter,
    content_root: str,
    changes: Iterable[Change],
    timestamp: int | None = None,
) -> None:
    """Write the layer tar for `changes`, reading contents below `content_root`."""
    first_path_of_inode: dict[tuple[int, int], str] = {}
    # Not tarfile's stream mode ("w|"): that copies its whole buffer on every write.
    # typeshed lacks tarfile.open's copybufsize
    with tarfile.open(
        fileobj=output,
        mode="w",
        format=tarfile.PAX_FORMAT,  # type: ignore[call-overload]
        copybufsize=COPY_BUFFER,
    ) as tar:
        for path, is_deletion in _with_ancestors(changes):
            if is_deletion:
                tar.addfile(_whiteout_info(path, timestamp))
                continue
            host_path = os.path.join(content_root, path)
            info = os.lstat(host_path)
            entry = _tar_info(path, host_path, info, timestamp)
            if entry is None:
                continue
            if entry.type == tarfile.REGTYPE and info.st_nlink > 1:
                inode = (info.st_dev, info.st_ino)
                if inode in first_path_of_inode:
                    entry.type, entry.size, entry.linkname = (
                        tarfile.LNKTYPE,
                        0,
                        first_path_of_inode[inode],
                    )
                    tar.addfile(entry)
                    continue
                first_path_of_inode[inode] = path
            if entry.type == tarfile.REGTYPE:
                with open(host_path, "rb") as contents:
                    tar.addfile(entry, contents)
            else:
                tar.addfile(entry)
