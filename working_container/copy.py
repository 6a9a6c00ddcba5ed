"""`bb copy` / `bb add`: put host files into the working container with Docker COPY/ADD semantics.

- sources are files, directories (their contents are copied) or globs;
- a destination ending in `/`, several sources, or an existing directory
  means "into this directory", otherwise the destination names the file;
- a relative destination is relative to the container's WorkingDir;
- copied entries belong to root (or --chown) and keep their permission bits
  (or take --chmod) and modification times;
- ADD unpacks local tar archives (plain, gzip, bzip2, xz) into the destination;
- BuildKit's `--exclude` leaves out what its patterns match below each source, and
  `--parents` keeps each source's path (from the root, or from a `/./` in it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import shlex
import shutil
import stat
import tarfile
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from bb.archive.extract import Whiteouts, extract_tar
from bb.archive.fsmeta import apply_metadata
from bb.archive.securejoin import clean_absolute, clean_relative, resolve_in_root
from bb.errors import ArchiveError, InvalidArgument, SourceError
from bb.runtime.users import read_colon_table
from bb.system.atomic import remove_entry
from bb.working_container.container import WorkingContainer

GLOB_CHARACTERS = frozenset("*?[")
URL_PREFIXES = ("http://", "https://", "git@", "git://")


class SourceFilter(Protocol):
    """Which context paths a copy leaves out (what .dockerignore says)."""

    def is_excluded(self, path: str) -> bool:
        """Whether the context-relative `path` is left out."""

    def must_descend(self, path: str) -> bool:
        """Whether an excluded directory may still hold re-included paths."""


@dataclass
class CopyOptions:
    """What `bb copy`/`bb add` (or COPY/ADD) asks for."""

    sources: list[str]
    destination: str
    chown: str | None = None
    chmod: str | None = None
    #: sources are paths inside this directory and may not leave it (a build
    #: context); None: host paths
    source_root: str | None = None
    #: copy from this image or container's root instead (--from)
    from_source: str | None = None
    #: without --chown, entries keep their source's owner (set for --from sources), not root's
    keep_owners: bool = False
    source_filter: SourceFilter | None = None
    #: `--exclude`: matched against paths relative to each source (a file source: its name)
    exclude: SourceFilter | None = None
    #: `--parents`: each source lands at its path below the root (or below a `/./` pivot)
    parents: bool = False
    extract_archives: bool = False
    created_by: str | None = None
    #: the instruction's name in error messages and history
    verb: str = "COPY"
    timestamp: int | None = field(default=None)


def parse_chmod(text: str) -> int:
    """`--chmod` takes octal permission bits."""
    try:
        mode = int(text, 8)
    except ValueError:
        raise InvalidArgument(
            f'--chmod "{text}": expected octal permission bits such as 0755'
        ) from None
    if not 0 <= mode <= 0o7777:
        raise InvalidArgument(f'--chmod "{text}": out of range')
    return mode


def resolve_chown(rootfs: str, text: str) -> tuple[int, int]:
    """`--chown user[:group]` against the container's passwd/group; no group means gid = uid."""
    user, _, group = text.partition(":")
    if not user:
        raise InvalidArgument(f'--chown "{text}": missing user')
    uid = _lookup_id(rootfs, "/etc/passwd", user, text)
    gid = _lookup_id(rootfs, "/etc/group", group, text) if group else uid
    return uid, gid


def _lookup_id(rootfs: str, table: str, name: str, flag_value: str) -> int:
    if name.isdigit():
        return int(name)
    for entry in read_colon_table(rootfs, table):
        if len(entry) >= 3 and entry[0] == name and entry[2].isdigit():
            return int(entry[2])
    raise InvalidArgument(f'--chown "{flag_value}": "{name}" not found in the container\'s {table}')


@dataclass
class Source:
    """One copy source after globbing: where it is on the host and what it was called."""

    host_path: str
    #: the path below the source root, symlinks resolved (for filters); None for plain host paths
    relative: str | None
    #: the name the source was given by (a symlink's own name, not its target's)
    name: str
    #: the source as the instruction gave it (a glob matches several)
    given: str
    #: the filter excludes the source itself, a directory: only what an exception re-includes
    #: below it is copied
    excluded: bool = False
    #: with --parents: the path the source keeps below the destination
    kept: str = ""


def expand_sources(options: CopyOptions) -> list[Source]:
    """Resolve, glob and check every source.

    As in buildah, a glob that matches nothing is no error while another source matches something.
    """
    expanded: list[Source] = []
    for source in options.sources:
        if source.startswith(URL_PREFIXES):
            raise SourceError(
                f'{options.verb} "{source}": remote sources are not supported; '
                "download the file into the context first"
            )
        is_glob = bool(GLOB_CHARACTERS & set(source))
        if options.source_root is None:
            matches = sorted(glob.glob(source, include_hidden=True)) if is_glob else [source]
            found = [
                Source(
                    os.path.abspath(match), None, os.path.basename(os.path.abspath(match)), source
                )
                for match in matches
                if os.path.lexists(match)
            ]
        else:
            try:
                relative = clean_relative(source)
            except ArchiveError:
                raise SourceError(f'{options.verb} "{source}": outside the build context') from None
            if is_glob:
                matches = sorted(
                    glob.glob(relative, root_dir=options.source_root, include_hidden=True)
                )
            else:
                matches = [relative]
            found = []
            root = os.path.abspath(options.source_root)
            pivot = _pivot(source) if options.parents else ""
            for match in matches:
                host = resolve_in_root(root, match)
                if os.path.lexists(host):
                    # filters see where symlinks lead: a link to an excluded path is excluded too
                    resolved = os.path.relpath(host, root)
                    path = clean_relative(match).lstrip("/")
                    found.append(
                        Source(
                            host,
                            "" if resolved == "." else resolved,
                            os.path.basename(clean_relative(match)),
                            source,
                            kept=path[len(pivot) :].lstrip("/") if pivot else path,
                        )
                    )
            if found and options.source_filter is not None:
                found = _filtered(found, options.source_filter)
                if not found:  # what it matched is all excluded
                    raise SourceError(f'{options.verb} "{source}": no such file or directory')
        if not found and not is_glob:
            raise SourceError(f'{options.verb} "{source}": no such file or directory')
        expanded.extend(found)
    if not expanded:  # every source is a glob that matched nothing
        raise SourceError(f'{options.verb} "{options.sources[0]}": no such file or directory')
    if options.exclude is not None:
        # a directory source itself is never matched (BuildKit matches what is below it)
        exclude = options.exclude
        expanded = [
            source
            for source in expanded
            if os.path.isdir(source.host_path) or not exclude.is_excluded(source.name)
        ]
    return expanded


def _pivot(source: str) -> str:
    """With --parents, the part of `source` before a `/./` (rsync's pivot): not kept."""
    before, pivot, _ = source.partition("/./")
    return clean_relative(before).lstrip("/") if pivot else ""


def _filtered(found: list[Source], source_filter: SourceFilter) -> list[Source]:
    """The sources the filter leaves, and excluded directories it may re-include something below."""
    kept = []
    for source in found:
        if not (source.relative and source_filter.is_excluded(source.relative)):
            kept.append(source)
        elif os.path.isdir(source.host_path) and source_filter.must_descend(source.relative):
            kept.append(dataclasses.replace(source, excluded=True))
    return kept


class _Copier:
    """Copies host trees into the container root with the ownership, mode and filter asked for."""

    def __init__(
        self, rootfs: str, options: CopyOptions, owner: tuple[int, int] | None, mode: int | None
    ):
        self.rootfs = rootfs
        self.options = options
        #: --chown's owner for every entry and directory made; None: each entry keeps its source's
        self.owner = owner
        self.mode = mode
        #: directories made with a source's mtime, set once everything is copied into them
        self.directory_times: list[tuple[str, float]] = []

    def make_directories(self, container_path: str) -> str:
        """mkdir -p inside the root (the directories made owned by --chown's owner, as buildah and
        BuildKit make them; else by root); returns the host path of the last directory."""
        host = self.rootfs
        parts = [part for part in clean_relative(container_path).split("/") if part]
        for depth in range(1, len(parts) + 1):
            host = resolve_in_root(self.rootfs, "/".join(parts[:depth]))
            if os.path.isdir(host):
                continue
            if os.path.lexists(host):
                raise SourceError(
                    f'{self.options.verb}: "/{"/".join(parts[:depth])}" '
                    "exists and is not a directory"
                )
            os.mkdir(host, 0o755)
            if self.owner is not None:
                os.chown(host, *self.owner)
        return host

    def make_kept_directories(self, destination: str, source: Source) -> str:
        """--parents: make the directories of `source.kept` below `destination` (for a directory
        source, its own too), each new one with the metadata of the source directory it stands
        for, as BuildKit copies them; returns the host path of the last."""
        is_directory = os.path.isdir(source.host_path)
        parts = [
            part
            for part in (source.kept if is_directory else os.path.dirname(source.kept)).split("/")
            if part
        ]
        host_directory = source.host_path if is_directory else os.path.dirname(source.host_path)
        source_directories = []
        for _ in parts:
            source_directories.append(host_directory)
            host_directory = os.path.dirname(host_directory)
        target = self.make_directories(destination)
        for depth, source_directory in enumerate(reversed(source_directories), start=1):
            path = clean_relative(destination + "/" + "/".join(parts[:depth]))
            target = resolve_in_root(self.rootfs, path)
            if os.path.isdir(target):
                continue
            if os.path.lexists(target):
                raise SourceError(f'{self.options.verb}: "/{path}" exists and is not a directory')
            os.mkdir(target, 0o700)
            info = os.stat(source_directory)
            self._apply(target, info)
            self.directory_times.append((target, info.st_mtime))
        return target

    def _apply(self, target: str, info: os.stat_result) -> None:
        mode = self.mode if self.mode is not None else info.st_mode
        mtime = self.options.timestamp if self.options.timestamp is not None else info.st_mtime
        uid, gid = self.owner if self.owner is not None else (info.st_uid, info.st_gid)
        apply_metadata(target, uid, gid, mode, mtime=None if stat.S_ISDIR(info.st_mode) else mtime)

    def copy_entry(self, source: str, target: str) -> None:
        """Copy one non-directory entry, replacing what is at `target`."""
        info = os.lstat(source)
        if os.path.lexists(target):
            remove_entry(target)
        if stat.S_ISREG(info.st_mode):
            shutil.copyfile(source, target, follow_symlinks=False)
        elif stat.S_ISLNK(info.st_mode):
            os.symlink(os.readlink(source), target)
        elif (
            stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
        ):
            os.mknod(target, info.st_mode, info.st_rdev)
        else:
            return
        self._apply(target, info)

    def copy_tree(self, source: str, relative: str | None, target_dir: str) -> int:
        """Copy the contents of directory `source` into `target_dir`; how many entries were copied.

        An excluded directory that an exception may re-include something below is walked but not
        copied: as in buildah, its target is made (mode 0755, the copy's owner) only once something
        lands in it.
        """
        directory_times: list[tuple[str, float | None]] = []
        implicit: set[str] = set()
        copied = 0

        def make_implicit(target: str) -> None:
            if target not in implicit:
                return
            make_implicit(os.path.dirname(target))
            implicit.discard(target)
            if os.path.isdir(target) and not os.path.islink(target):
                return  # the container's own directory stays as it is
            if os.path.lexists(target):
                remove_entry(target)
            os.mkdir(target, 0o700)
            apply_metadata(target, *(self.owner or (0, 0)), 0o755)
            directory_times.append((target, None))

        for current, dirnames, filenames in os.walk(source):
            below = os.path.relpath(current, source)
            target_current = target_dir if below == "." else os.path.join(target_dir, below)
            kept_dirs = []
            for name in sorted(dirnames):
                entry_source = os.path.join(current, name)
                entry_relative = self._relative(relative, below, name)
                entry_target = os.path.join(target_current, name)
                below_source = self._relative("", below, name)
                if self._excluded(entry_relative, below_source):
                    if self._must_descend(entry_relative, below_source) and not os.path.islink(
                        entry_source
                    ):
                        implicit.add(entry_target)
                        kept_dirs.append(name)
                    continue
                make_implicit(target_current)
                copied += 1
                if os.path.islink(entry_source):
                    self.copy_entry(entry_source, entry_target)
                    continue
                if not os.path.isdir(entry_target) or os.path.islink(entry_target):
                    if os.path.lexists(entry_target):
                        remove_entry(entry_target)
                    os.mkdir(entry_target, 0o700)
                info = os.lstat(entry_source)
                self._apply(entry_target, info)
                directory_times.append((entry_target, info.st_mtime))
                kept_dirs.append(name)
            dirnames[:] = kept_dirs
            for name in sorted(filenames):
                if self._excluded(
                    self._relative(relative, below, name), self._relative("", below, name)
                ):
                    continue
                make_implicit(target_current)
                copied += 1
                self.copy_entry(os.path.join(current, name), os.path.join(target_current, name))
        for directory, mtime in reversed(directory_times):
            when = self.options.timestamp if self.options.timestamp is not None else mtime
            if when is not None:
                os.utime(directory, (when, when), follow_symlinks=False)
        return copied

    @staticmethod
    def _relative(base: str | None, below: str, name: str) -> str | None:
        if base is None:
            return None
        parts = [p for p in (base, "" if below == "." else below, name) if p]
        return "/".join(parts)

    def _exclusions(
        self, relative: str | None, below_source: str | None
    ) -> list[tuple[str, SourceFilter]]:
        """The filters leaving an entry out, each with the path it matched: .dockerignore the
        context path `relative`, --exclude the path below the source."""
        candidates = ((relative, self.options.source_filter), (below_source, self.options.exclude))
        return [
            (path, source_filter)
            for path, source_filter in candidates
            if path and source_filter is not None and source_filter.is_excluded(path)
        ]

    def _excluded(self, relative: str | None, below_source: str | None) -> bool:
        return bool(self._exclusions(relative, below_source))

    def _must_descend(self, relative: str | None, below_source: str | None) -> bool:
        return all(
            source_filter.must_descend(path)
            for path, source_filter in self._exclusions(relative, below_source)
        )


def _is_archive(path: str) -> bool:
    try:
        return os.path.isfile(path) and tarfile.is_tarfile(path)
    except OSError:
        return False


@contextlib.contextmanager
def _root_of(container: WorkingContainer, name: str) -> Iterator[str]:
    """The root file system of another container, or else of an image, for --from."""
    store = container.store
    other = store.containers.find(name)
    if other is not None:
        if other.id == container.id:
            with container.mounted() as rootfs:
                yield rootfs
            return
        with WorkingContainer.opened(store, other.id) as source_container:
            with source_container.mounted() as rootfs:
                yield rootfs
        return
    image = store.images.lookup(name)
    if image.top_layer is None:
        with tempfile.TemporaryDirectory() as empty:
            yield empty
        return
    with store.driver.read_only_view(image.top_layer) as rootfs:
        yield rootfs


def copy_step(container: WorkingContainer, options: CopyOptions) -> None:
    """Copy (or, with extract_archives, add) the sources into the container."""
    if options.from_source is not None:
        with _root_of(container, options.from_source) as source_root:
            # what comes from another stage, image or container keeps its owners (as in buildah
            # and docker)
            _copy(
                container,
                dataclasses.replace(
                    options, source_root=source_root, from_source=None, keep_owners=True
                ),
            )
    else:
        _copy(container, options)


def _copy(container: WorkingContainer, options: CopyOptions) -> None:
    if not options.sources:
        raise InvalidArgument(f"{options.verb}: no source given")
    mode = parse_chmod(options.chmod) if options.chmod else None
    sources = expand_sources(options)
    destination = options.destination
    if not destination.startswith("/"):
        destination = os.path.join(container.config.get("WorkingDir") or "/", destination)
    names_directory = destination.endswith("/")
    destination = clean_absolute(destination)
    with container.mounted() as rootfs:
        owner = resolve_chown(rootfs, options.chown) if options.chown else None
        if owner is None and not options.keep_owners:
            owner = (0, 0)
        copier = _Copier(rootfs, options, owner, mode)
        existing = resolve_in_root(rootfs, destination)
        into_directory = names_directory or os.path.isdir(existing) or options.parents
        if len(sources) > 1 and not into_directory:
            raise SourceError(
                f"{options.verb} with more than one source: "
                f'the destination "{options.destination}" must be a directory and end with a /'
            )
        # per source as given, what it copied: an excluded directory counts the entries
        # re-included below it
        copied: Counter[str] = Counter()
        for source in sources:
            info = (
                os.stat(source.host_path)
                if os.path.exists(source.host_path)
                else os.lstat(source.host_path)
            )
            tree_entries = 0
            if options.parents and source.kept:
                target_dir = copier.make_kept_directories(destination, source)
                if stat.S_ISDIR(info.st_mode):
                    tree_entries = copier.copy_tree(source.host_path, source.relative, target_dir)
                else:
                    copier.copy_entry(
                        os.path.realpath(source.host_path), os.path.join(target_dir, source.name)
                    )
            elif stat.S_ISDIR(info.st_mode):
                target_dir = copier.make_directories(destination)
                tree_entries = copier.copy_tree(source.host_path, source.relative, target_dir)
            elif options.extract_archives and _is_archive(source.host_path):
                target_dir = copier.make_directories(destination)
                with open(source.host_path, "rb") as archive:
                    try:
                        extract_tar(archive, target_dir, Whiteouts.KEEP_AS_FILES)
                    except ArchiveError as failure:
                        raise ArchiveError(
                            f'{options.verb} "{source.host_path}": {failure}'
                        ) from None
            elif into_directory:
                target_dir = copier.make_directories(destination)
                copier.copy_entry(
                    os.path.realpath(source.host_path), os.path.join(target_dir, source.name)
                )
            else:
                parent, name = os.path.split(destination)
                target_dir = copier.make_directories(parent)
                copier.copy_entry(
                    os.path.realpath(source.host_path), os.path.join(target_dir, name)
                )
            copied[source.given] += tree_entries if source.excluded else 1
        for directory, mtime in copier.directory_times:
            when = options.timestamp if options.timestamp is not None else mtime
            os.utime(directory, (when, when), follow_symlinks=False)
        for given in options.sources:
            if (
                given in copied and not copied[given]
            ):  # as in buildah: nothing of it was left to copy
                raise SourceError(f'{options.verb} "{given}": no such file or directory')
    container.add_history(
        options.created_by
        or f"{options.verb} {shlex.join([*options.sources, options.destination])}"
    )
    container.save()
