"""The directories of `RUN --mount=type=cache`, under `<root>/run-cache/`: one per cache id.

They outlive builds and are never part of an image. A step holds its directory's lock
(shared for `sharing=shared`, exclusive otherwise) while it runs, so `bb prune` removes
only directories no step is using.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

from bb.archive.fsmeta import copy_tree_as_is
from bb.system.locks import FileLock

if TYPE_CHECKING:
    from bb.store.store import Store


def _ensure(store: Store, cache_id: str, mode: int, uid: int, gid: int, seed: str | None) -> str:
    """The directory of `cache_id`, made (with `mode` and owner, holding a copy of what is in the
    directory `seed`) if it is new."""
    directory = os.path.join(store.run_cache_dir, hashlib.sha256(cache_id.encode()).hexdigest())
    os.makedirs(store.run_cache_dir, mode=0o700, exist_ok=True)
    if not os.path.isdir(directory):
        made = tempfile.mkdtemp(prefix=".new-", dir=store.run_cache_dir)
        if seed is not None and os.path.isdir(seed):
            copy_tree_as_is(seed, made)
        os.chmod(made, mode)
        os.chown(made, uid, gid)
        with contextlib.suppress(OSError):  # another build made it first
            os.rename(made, directory)
        if os.path.isdir(made):
            os.rmdir(made)
    return directory


@contextlib.contextmanager
def cache_directory(
    store: Store,
    cache_id: str,
    sharing: str,
    mode: int,
    uid: int,
    gid: int,
    seed: str | None = None,
) -> Iterator[str]:
    """A cache mount's directory, held for the block: `shared` with other steps, `locked` waiting
    for the one holding it, `private` a fresh directory of its own while another holds it. A new
    one starts as a copy of `seed` (BuildKit's `from=`), if given."""
    directory = _ensure(store, cache_id, mode, uid, gid, seed)
    lock = FileLock(directory + ".lock", shared=sharing == "shared")
    if sharing != "private":
        with lock:
            yield directory
        return
    if lock.acquire(blocking=False):
        try:
            yield directory
        finally:
            lock.release()
        return
    with tempfile.TemporaryDirectory(dir=store.temp_dir) as fresh:
        yield fresh


def prune_run_cache(store: Store) -> int:
    """Remove every cache directory no step is using; how many were removed."""
    if not os.path.isdir(store.run_cache_dir):
        return 0
    removed = 0
    for name in sorted(os.listdir(store.run_cache_dir)):
        path = os.path.join(store.run_cache_dir, name)
        if name.endswith(".lock") or not os.path.isdir(path):
            continue
        lock = FileLock(path + ".lock")
        if not lock.acquire(blocking=False):
            continue  # a step has it mounted
        try:
            shutil.rmtree(path)
            removed += 1
        finally:
            lock.release()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path + ".lock")
    return removed
