"""Unpack a layer or archive tar into a directory, safely, honouring whiteouts.

Every entry is resolved inside the root as a chroot would (`..`, absolute
names and symlinks cannot lead out), xattrs that would forge overlayfs
markers are dropped, and directory times are restored after their contents
are written.
"""

from __future__ import annotations

import enum
import errno
import os
import shutil
import stat
import tarfile
from typing import IO, BinaryIO

from bb.archive.changes import OVERLAY_OPAQUE_XATTR
from bb.archive.fsmeta import DirectoryTimes, apply_metadata
from bb.archive.layer_tar import COPY_BUFFER, OPAQUE_WHITEOUT, WHITEOUT_PREFIX
from bb.archive.securejoin import clean_relative, resolve_in_root
from bb.errors import ArchiveError
from bb.system.atomic import remove_entry

# overlayfs's own markers (a copied-up file carries trusted.overlay.origin, for one)
OVERLAY_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.")
# xattrs a tar entry may not set: overlayfs's markers, or SELinux labels of another host.
FORBIDDEN_XATTR_PREFIXES = (*OVERLAY_XATTR_PREFIXES, "security.selinux")


class Whiteouts(enum.Enum):
    """What to do with `.wh.` entries."""

    KEEP_AS_FILES = "plain"  # ADD of an archive: they are ordinary names
    APPLY = "apply"  # a full tree: delete what they name
    OVERLAY = "overlay"  # an overlay layer directory: write overlayfs markers


class _Extractor:
    def __init__(
        self, root: str, whiteouts: Whiteouts, lower_view: str | None, reuse_files_from: str | None
    ):
        self.root = os.path.abspath(root)
        self.whiteouts = whiteouts
        self.lower_view = lower_view
        self.reuse_files_from = reuse_files_from
        self.times = DirectoryTimes()
        self.written: set[str] = set()
        # directories already resolved in this archive; forgotten whenever anything is removed,
        # since a removed directory may come back as a symlink
        self._resolved_directories: dict[str, str] = {}

    def directory(self, relative: str) -> str:
        """Host path of directory `relative`, made (if missing) like its lower counterparts."""
        # Start from the deepest directory already resolved: each entry then costs only its new
        # components, so a deep chain unpacks in linear time.
        known = relative
        while known and known not in self._resolved_directories:
            known = known.rpartition("/")[0]
        host = self._resolved_directories[known] if known else self.root
        walked = known
        for part in [p for p in relative[len(known) :].split("/") if p]:
            walked = f"{walked}/{part}" if walked else part
            host = os.path.join(host, part)
            info = _lstat_or_none(host)
            if info is not None and stat.S_ISLNK(info.st_mode):
                host = resolve_in_root(self.root, walked)
                info = _lstat_or_none(host)
            if info is None:
                self._create_implied_directory(host, walked)
            elif not stat.S_ISDIR(info.st_mode):
                raise ArchiveError(f'cannot extract below "{walked}": not a directory')
            self._resolved_directories[walked] = host
        return host

    def _remove(self, path: str) -> None:
        self._resolved_directories.clear()
        remove_entry(path)

    def _create_implied_directory(self, host: str, relative: str) -> None:
        # A symlink may point at a path several levels deep that does not exist yet.
        missing_ancestors = []
        ancestor = os.path.dirname(host)
        while ancestor != self.root and not os.path.lexists(ancestor):
            missing_ancestors.append(ancestor)
            ancestor = os.path.dirname(ancestor)
        self.times.remember(ancestor)
        for path in reversed(missing_ancestors):
            os.mkdir(path, 0o755)
        template = None
        if self.lower_view is not None:
            candidate = resolve_in_root(self.lower_view, relative)
            if os.path.isdir(candidate):
                template = os.lstat(candidate)
        os.mkdir(host, 0o755)
        if template is None:
            apply_metadata(host, 0, 0, 0o755)
            return
        apply_metadata(host, template.st_uid, template.st_gid, template.st_mode)
        self.times.set_later(host, template.st_mtime_ns)

    def whiteout(self, directory: str, name: str) -> None:
        parent = self.directory(directory)
        self.times.remember(parent)
        if name == OPAQUE_WHITEOUT:
            if self.whiteouts is Whiteouts.OVERLAY:
                os.setxattr(parent, OVERLAY_OPAQUE_XATTR, b"y")
                return
            for child in os.listdir(parent):
                child_relative = f"{directory}/{child}" if directory else child
                if child_relative not in self.written:
                    self._remove(os.path.join(parent, child))
            return
        hidden = name[len(WHITEOUT_PREFIX) :]
        hidden_relative = f"{directory}/{hidden}" if directory else hidden
        if hidden in ("", ".", "..") or "/" in hidden or hidden_relative in self.written:
            return
        target = os.path.join(parent, hidden)
        if self.whiteouts is Whiteouts.OVERLAY:
            self._remove(target)
            os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0))
        else:
            self._remove(target)

    def entry(self, tar: tarfile.TarFile, member: tarfile.TarInfo, relative: str) -> None:
        directory, _, name = relative.rpartition("/")
        parent = self.directory(directory)
        target = os.path.join(parent, name)
        self.times.remember(parent)
        existing = None
        try:
            existing = os.lstat(target)
        except FileNotFoundError:
            pass
        if existing is not None and not (member.isdir() and stat.S_ISDIR(existing.st_mode)):
            self._remove(target)
        xattrs = {
            key[len("SCHILY.xattr.") :]: value.encode("utf-8", "surrogateescape")
            for key, value in member.pax_headers.items()
            if key.startswith("SCHILY.xattr.")
            and not key[len("SCHILY.xattr.") :].startswith(FORBIDDEN_XATTR_PREFIXES)
        }
        if member.isdir():
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                os.mkdir(target, 0o700)
            apply_metadata(target, member.uid, member.gid, member.mode, xattrs)
            self.times.set_later(target, int(member.mtime) * 1_000_000_000)
        elif member.isreg():
            if not self._link_reused_file(relative, target, member.size, xattrs):
                source = tar.extractfile(member)
                assert source is not None
                fd = os.open(
                    target,
                    os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                    0o600,
                )
                with os.fdopen(fd, "wb") as output:
                    _copy_keeping_holes(source, output, member.size)
            apply_metadata(target, member.uid, member.gid, member.mode, xattrs, member.mtime)
        elif member.issym():
            os.symlink(member.linkname, target)
            apply_metadata(target, member.uid, member.gid, member.mode, xattrs, member.mtime)
        elif member.islnk():
            self._hard_link(clean_relative(member.linkname), target)
        elif member.ischr() or member.isblk() or member.isfifo():
            kind = (
                stat.S_IFCHR if member.ischr() else stat.S_IFBLK if member.isblk() else stat.S_IFIFO
            )
            os.mknod(target, kind | 0o600, os.makedev(member.devmajor, member.devminor))
            apply_metadata(target, member.uid, member.gid, member.mode, xattrs, member.mtime)
        else:
            raise ArchiveError(f'unsupported tar entry type for "{member.name}"')
        self.written.add(relative)

    def _link_reused_file(
        self, relative: str, target: str, size: int, xattrs: dict[str, bytes]
    ) -> bool:
        """Hard-link `relative` from the tree the tar was made from, if that file can be the entry.

        Only a file with no xattrs beyond the entry's and overlayfs's markers qualifies (linking
        must not leave extra ones); the markers are removed from it, which changes the source
        too: that tree is the upper directory of a container that never runs again. A metacopy
        file holds no data of its own, so is never linked. Metadata is applied afterwards as for
        a copy."""
        if self.reuse_files_from is None:
            return False
        source = os.path.join(self.reuse_files_from, relative)
        try:
            info = os.lstat(source)
            if not stat.S_ISREG(info.st_mode) or info.st_size != size:
                return False
            present = set(os.listxattr(source, follow_symlinks=False))
            markers = {name for name in present if name.startswith(OVERLAY_XATTR_PREFIXES)}
            if present - markers != set(xattrs) or any(
                name.endswith(".metacopy") for name in markers
            ):
                return False
            os.link(source, target, follow_symlinks=False)
            try:
                for name in markers:
                    os.removexattr(target, name, follow_symlinks=False)
            except OSError:
                os.unlink(target)  # the entry is copied instead
                raise
        except OSError as failure:
            if failure.errno in (errno.EXDEV, errno.EPERM):
                self.reuse_files_from = (
                    None  # another file system, or links refused: copy everything
                )
            return False
        return True

    def _hard_link(self, link_target: str, target: str) -> None:
        source = resolve_in_root(self.root, link_target, follow_final=False)
        if os.path.lexists(source):
            if os.path.isdir(source) and not os.path.islink(source):
                raise ArchiveError(f'hard link to directory "{link_target}"')
            os.link(source, target, follow_symlinks=False)
            return
        # An overlay layer directory holds only this layer: a link to a lower
        # layer's file becomes a copy, as overlayfs's copy-up would make it.
        if self.lower_view is not None:
            lower = resolve_in_root(self.lower_view, link_target, follow_final=False)
            if os.path.isfile(lower) and not os.path.islink(lower):
                shutil.copy2(lower, target, follow_symlinks=False)
                info = os.lstat(lower)
                os.chown(target, info.st_uid, info.st_gid, follow_symlinks=False)
                os.chmod(target, stat.S_IMODE(info.st_mode))
                return
        raise ArchiveError(f'hard link target "{link_target}" does not exist')


def _lstat_or_none(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _copy_keeping_holes(source: IO[bytes], output: BinaryIO, size: int) -> None:
    """Copy contents, all-zero blocks left as holes: a huge sparse file must not fill the disk."""
    zeros = bytes(min(size, COPY_BUFFER))
    remaining = size
    while remaining:
        block = source.read(
            min(remaining, COPY_BUFFER)
        )  # never more: small files are the common case
        if not block:
            raise ArchiveError("unexpected end of data")
        remaining -= len(block)
        if block == zeros[: len(block)]:
            output.seek(len(block), os.SEEK_CUR)
        else:
            output.write(block)
    if size and block == zeros[: len(block)]:
        output.truncate(size)  # the file ends in a hole


def _open_tar(stream: BinaryIO) -> tarfile.TarFile:
    """`stream` as a tar archive, plain or compressed.

    A seekable stream is read in place; tarfile's stream mode ("r|") copies its
    buffer on every read, which costs dearly for many small entries."""
    mode = "r:*" if stream.seekable() else "r|*"
    try:
        return tarfile.open(fileobj=stream, mode=mode, copybufsize=COPY_BUFFER)  # type: ignore[call-overload]
    except tarfile.ReadError:
        # neither tar nor a compressed tar ("r:*" would list every format it tried, a line each)
        raise ArchiveError("reading tar archive: not a tar archive") from None


def extract_tar(
    stream: BinaryIO,
    root: str,
    whiteouts: Whiteouts,
    lower_view: str | None = None,
    reuse_files_from: str | None = None,
) -> None:
    """Unpack the (optionally compressed) tar `stream` into `root`.

    `lower_view`, for an overlay layer directory, is the merged tree below it:
    directories the tar implies but does not contain copy their metadata from
    there, as they would look through the overlay.

    `reuse_files_from` is the tree this very tar was just written from, which
    the caller deletes afterwards and nothing changes meanwhile: its regular
    files are hard-linked rather than copied where the file system allows
    (writing and later deleting many small files is what commit spends most on).
    """
    extractor = _Extractor(root, whiteouts, lower_view, reuse_files_from)
    try:
        with _open_tar(stream) as tar:
            for member in tar:
                relative = clean_relative(member.name)
                if not relative:
                    continue
                directory, _, name = relative.rpartition("/")
                try:
                    if (
                        name.startswith(WHITEOUT_PREFIX)
                        and whiteouts is not Whiteouts.KEEP_AS_FILES
                    ):
                        extractor.whiteout(directory, name)
                    else:
                        extractor.entry(tar, member, relative)
                except OSError as failure:
                    # an empty symlink target, a full disk, a name too long: say which entry
                    raise ArchiveError(
                        f'extracting "{member.name}": {failure.strerror or failure}'
                    ) from None
    except (tarfile.TarError, EOFError, ValueError, UnicodeError) as failure:
        raise ArchiveError(f"reading tar archive: {failure}") from None
    finally:
        extractor.times.restore()
