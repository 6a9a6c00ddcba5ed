"""The VM cache: a prepared kernel and initramfs per kernel version, built once under a lock."""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from types import TracebackType
from typing import Self

from .host import ensure_host_packages
from .initrd import build_initrd, initrd_recipe_hash
from .kernel import build_kernel, kernel_complete, kernel_image, resolve_kernel_version
from .report import log


def cache_dir() -> str:
    """The cache directory: BB_VM_CACHE, or /var/cache/bb-vm."""
    return os.path.abspath(os.environ.get("BB_VM_CACHE") or "/var/cache/bb-vm")


class CacheLock:
    """An exclusive lock on the cache, held while it is being prepared."""

    def __init__(self, cache: str):
        self.path = os.path.join(cache, ".lock")

    def __enter__(self) -> Self:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("waiting for another preparation of the VM cache to finish")
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        os.close(self.fd)


def prepare(cache: str) -> tuple[str, str, str]:
    """Return (kernel version, vmlinuz path, initrd path), building them if needed."""
    ensure_host_packages()
    os.makedirs(cache, exist_ok=True)
    version = resolve_kernel_version(cache)
    kdir = os.path.join(cache, version)
    initrd = os.path.join(kdir, f"initrd-{initrd_recipe_hash(version)}.gz")
    if kernel_complete(kdir) and os.path.isfile(initrd):
        touch(initrd)
        return version, kernel_image(kdir), initrd
    t0 = time.monotonic()
    with CacheLock(cache):
        # Preparations that were killed leave .tmp-* behind; nobody else can be
        # using them while we hold the lock.
        for name in os.listdir(cache):
            if name.startswith(".tmp-"):
                shutil.rmtree(os.path.join(cache, name), ignore_errors=True)
        built = False
        if not kernel_complete(kdir):
            build_kernel(cache, version)
            built = True
        if not os.path.isfile(initrd):
            # Other checkouts may use other initramfs recipes (and be booting
            # one right now): only drop those unused for a week.
            for old in os.listdir(kdir):
                path = os.path.join(kdir, old)
                if (
                    old.startswith("initrd-")
                    and old.endswith(".gz")
                    and time.time() - os.stat(path).st_mtime > 7 * 86400
                ):
                    os.unlink(path)
            build_initrd(kdir, version, initrd)
            built = True
    if built:
        log(f"VM cache prepared in {time.monotonic() - t0:.1f} s")
    return version, kernel_image(kdir), initrd


def touch(path: str) -> None:
    """Mark path as used now: an initramfs unused for a week is dropped."""
    try:
        os.utime(path)
    except OSError:
        pass
