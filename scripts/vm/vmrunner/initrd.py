"""The initramfs: static busybox, stage1-init.sh and the kernel modules to load at boot."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import subprocess
import tempfile

from . import VM_DIR
from .host import BUSYBOX
from .kernel import CACHE_FORMAT
from .report import Failure, debug, log

INITRD_FORMAT = "2"  # bump when build_initrd changes what it puts in the initramfs
STAGE1 = os.path.join(VM_DIR, "stage1-init.sh")

# Loaded by the initramfs in this order (each preceded by its modules.dep
# dependencies).  Anything built into the kernel is skipped; anything absent
# is reported and skipped (stage 2 then checks the thin targets).
MODULES = [
    "virtio_pci_legacy_dev",
    "virtio_pci_modern_dev",
    "virtio_ring",
    "virtio",
    "virtio_pci",
    "virtio_console",
    "virtio_rng",
    "virtio_blk",
    "9pnet",
    "9pnet_virtio",
    "netfs",
    "fscache",
    "9p",
    "overlay",
    "loop",
    "dm_mod",
    "dm_bufio",
    "crc32c_generic",
    "libcrc32c",
    "dm_persistent_data",
    "dm_bio_prison",
    "dm_thin_pool",
    "dm_snapshot",
]
# Loaded by stage 2 in the background while it sets the guest up (xfs alone
# takes ~2.5 s under TCG); the command starts only once they are all loaded.
LATE_MODULES = ["crc16", "mbcache", "jbd2", "ext4", "xfs"]
# Soft pre-dependencies modules.dep does not express: libcrc32c needs a crc32c
# implementation registered first, or dm-persistent-data (thin-pool) fails.
PRE = {"libcrc32c": ["crc32c_generic"]}


def modname(path: str) -> str:
    """The module name of a module file path (dm-mod.ko.xz -> dm_mod)."""
    base = os.path.basename(path)
    base = re.sub(r"\.ko(\.(xz|gz|zst))?$", "", base)
    return base.replace("-", "_")


def module_load_order(moddir: str) -> tuple[list[str], list[str], list[str], list[str]]:
    """The load order of MODULES and LATE_MODULES in moddir, from its modules.dep.

    Returns (MODULES paths to insmod in order, LATE_MODULES "path boot-deps..." lines,
    built-in names, missing names).
    """
    deps: dict[str, tuple[str, list[str]]] = {}
    with open(os.path.join(moddir, "modules.dep")) as f:
        for line in f:
            path, _, rest = line.partition(":")
            deps[modname(path)] = (path.strip(), [modname(d) for d in rest.split()])
    builtin: set[str] = set()
    try:
        with open(os.path.join(moddir, "modules.builtin")) as f:
            builtin = {modname(line.strip()) for line in f if line.strip()}
    except OSError:
        pass
    order: list[str] = []
    seen: set[str] = set()
    built: list[str] = []
    missing: list[str] = []

    def add(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for pre in PRE.get(name, []):
            add(pre)
        if name in builtin:
            built.append(name)
            return
        if name not in deps:
            missing.append(name)
            return
        for dep in deps[name][1]:
            add(dep)
        order.append(deps[name][0])

    for name in MODULES:
        add(name.replace("-", "_"))
    boot = order[:]
    del order[:]
    for name in LATE_MODULES:
        add(name.replace("-", "_"))
    # Each late module with the boot modules it needs (it waits for them).
    boot_names = {modname(p) for p in boot}
    late = []
    for path in order:
        needs = sorted(set(deps[modname(path)][1]) & boot_names)
        late.append(" ".join([path] + needs))
    return boot, late, built, missing


def initrd_recipe_hash(version: str) -> str:
    """A short hash of everything build_initrd puts in the initramfs of kernel `version`."""
    h = hashlib.sha256()
    h.update(f"{CACHE_FORMAT}/{INITRD_FORMAT}/{version}".encode() + b"\0")
    h.update(repr((MODULES, LATE_MODULES, PRE)).encode() + b"\0")
    for path in (STAGE1, BUSYBOX):
        with open(path, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()[:16]


def build_initrd(kdir: str, version: str, dest: str) -> None:
    """Pack the initramfs of the kernel in kdir into dest (gzipped newc cpio, atomically)."""
    moddir = os.path.join(kdir, "lib", "modules", version)
    order, late, built, missing = module_load_order(moddir)
    if built:
        debug(f"built into the kernel: {' '.join(built)}")
    if missing:
        log(f"warning: modules not found in {version}: {' '.join(missing)}")
    tmp = tempfile.mkdtemp(prefix=".tmp-initrd-", dir=os.path.dirname(kdir))
    try:
        for d in (
            "bin",
            "dev",
            "proc",
            "sys",
            "lower",
            "rw",
            "newroot",
            "etc/bb-vm",
            "lib/modules",
        ):
            os.makedirs(os.path.join(tmp, d), exist_ok=True)
        os.mknod(os.path.join(tmp, "dev", "console"), 0o600 | 0o020000, os.makedev(5, 1))
        shutil.copy2(BUSYBOX, os.path.join(tmp, "bin", "busybox"))
        shutil.copy2(STAGE1, os.path.join(tmp, "init"))
        os.chmod(os.path.join(tmp, "init"), 0o755)
        for rel in order + [line.split()[0] for line in late]:
            dst = os.path.join(tmp, "lib", "modules", rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(os.path.join(moddir, rel), dst)
        with open(os.path.join(tmp, "etc", "bb-vm", "modules"), "w") as f:
            f.write("".join(rel + "\n" for rel in order))
        with open(os.path.join(tmp, "etc", "bb-vm", "modules.late"), "w") as f:
            f.write("".join(rel + "\n" for rel in late))
        names = []
        for root, dirs, files in os.walk(tmp):
            for n in sorted(dirs) + sorted(files):
                names.append(os.path.relpath(os.path.join(root, n), tmp))
        part = f"{dest}.{os.getpid()}.part"
        with open(part, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            p = subprocess.Popen(
                ["cpio", "-o", "-H", "newc", "--quiet", "-R", "0:0"],
                cwd=tmp,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            assert p.stdin and p.stdout
            p.stdin.write("".join(n + "\n" for n in names).encode())
            p.stdin.close()
            shutil.copyfileobj(p.stdout, gz)
            if p.wait() != 0:
                raise Failure("cpio failed to pack the initramfs")
        os.replace(part, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for leftover in (f"{dest}.{os.getpid()}.part",):
            if os.path.exists(leftover):
                os.unlink(leftover)
