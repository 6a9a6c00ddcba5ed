"""The step keys of `bb build --layers` (the index from key to image is `bb.store.build_cache`).

A step's key chains its parent's key with the instruction as expanded, the
build arguments it can see and, for COPY/ADD, a digest of the source files,
so an unchanged step maps to the image committed for it last time.
"""

from __future__ import annotations

import hashlib
import os
import stat

from bb.working_container.copy import CopyOptions, Source, expand_sources


def chain_key(parent_key: str, *parts: str) -> str:
    """The key of a step after `parent_key`."""
    digest = hashlib.sha256(parent_key.encode())
    for part in parts:
        digest.update(b"\0" + part.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _hash_tree(digest: hashlib._Hash, source: Source, options: CopyOptions) -> None:
    """Feed names, modes and contents below one source into `digest`."""
    root = source.host_path
    entries = [(source.relative or "", root)]
    if os.path.isdir(root):
        for current, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                path = os.path.join(current, name)
                relative = os.path.relpath(path, root)
                if options.exclude is not None and options.exclude.is_excluded(relative):
                    continue
                if source.relative is not None and options.source_filter is not None:
                    if options.source_filter.is_excluded(
                        f"{source.relative}/{relative}".lstrip("/")
                    ):
                        continue
                entries.append((relative, path))
    for relative, path in entries:
        info = os.lstat(path)
        digest.update(
            f"{relative}\0{info.st_mode:o}\0{info.st_size}\0".encode("utf-8", "surrogateescape")
        )
        if stat.S_ISLNK(info.st_mode):
            digest.update(os.readlink(path).encode("utf-8", "surrogateescape"))
        elif stat.S_ISREG(info.st_mode):
            with open(path, "rb") as contents:
                for block in iter(lambda: contents.read(1 << 20), b""):
                    digest.update(block)


def sources_digest(options: CopyOptions) -> str:
    """A digest of everything COPY/ADD would read (the same sources, filter and globbing)."""
    digest = hashlib.sha256()
    for source in expand_sources(options):
        digest.update(source.name.encode("utf-8", "surrogateescape") + b"\0")
        _hash_tree(digest, source, options)
    return digest.hexdigest()
