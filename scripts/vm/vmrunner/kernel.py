"""The guest's kernel: Debian's linux-image-amd64, downloaded and unpacked into the cache."""

from __future__ import annotations

import errno
import gzip
import json
import lzma
import os
import re
import shutil
import subprocess
import tempfile

from .host import run, which
from .report import Failure, debug, log

CACHE_FORMAT = "1"  # bump to invalidate every cached kernel directory


def apt_lists_stamp() -> float:
    """When apt's package lists last changed (0 if there are none)."""
    stamp = 0.0
    for p in ("/var/lib/apt/lists", "/var/cache/apt/pkgcache.bin"):
        try:
            stamp = max(stamp, os.stat(p).st_mtime)
        except OSError:
            pass
    return stamp


def complete_kernels(cache: str) -> list[str]:
    """The versions of the complete kernel directories in the cache, oldest first."""
    found = []
    try:
        names = os.listdir(cache)
    except OSError:
        return []
    for name in names:
        if not name.startswith(".") and kernel_complete(os.path.join(cache, name)):
            found.append(name)
    found.sort(key=lambda n: os.stat(os.path.join(cache, n)).st_mtime)
    return found


def kernel_complete(kdir: str) -> bool:
    """Whether kdir is a kernel directory built completely, in this CACHE_FORMAT."""
    try:
        with open(os.path.join(kdir, "complete")) as f:
            return f.read().strip() == CACHE_FORMAT
    except OSError:
        return False


def resolve_kernel_version(cache: str) -> str:
    """Version of the kernel linux-image-amd64 currently points to (e.g. 6.1.0-56-amd64).

    Asking apt-cache costs ~1 s, so the answer is remembered next to the cache
    until the apt lists change.  BB_VM_KERNEL overrides it.
    """
    if os.environ.get("BB_VM_KERNEL"):
        return os.environ["BB_VM_KERNEL"]
    memo = os.path.join(cache, "resolved.json")
    stamp = apt_lists_stamp()
    try:
        with open(memo) as f:
            data = json.load(f)
        if data.get("stamp") == stamp and data.get("version"):
            return str(data["version"])
    except (OSError, ValueError):
        pass

    def ask() -> str | None:
        res = subprocess.run(
            ["apt-cache", "depends", "linux-image-amd64"],
            check=False,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        m = re.search(r"Depends:\s*linux-image-(\d[\w.+~-]*-amd64)\s*$", res.stdout, re.MULTILINE)
        return m.group(1) if m else None

    version = ask()
    if not version:
        log("apt-cache does not know linux-image-amd64; running apt-get update")
        run(["apt-get", "-q", "update"], env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        stamp = apt_lists_stamp()
        version = ask()
    if not version:
        cached = complete_kernels(cache)
        if cached:
            log(f"cannot resolve linux-image-amd64; using cached kernel {cached[-1]}")
            return cached[-1]
        raise Failure("cannot resolve the kernel package linux-image-amd64 with apt-cache")
    try:
        os.makedirs(cache, exist_ok=True)
        tmp = f"{memo}.{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump({"stamp": stamp, "version": version}, f)
        os.replace(tmp, memo)
    except OSError:
        pass
    return version


def decompress_modules(moddir: str) -> None:
    """busybox insmod cannot load compressed modules: store them plain."""
    for root, _dirs, files in os.walk(moddir):
        for name in files:
            m = re.search(r"\.ko\.(xz|gz|zst)$", name)
            if not m:
                continue
            src = os.path.join(root, name)
            dst = src[: -len(m.group(1)) - 1]
            if m.group(1) == "xz":
                with lzma.open(src) as i, open(dst, "wb") as o:
                    shutil.copyfileobj(i, o)
            elif m.group(1) == "gz":
                with gzip.open(src) as i, open(dst, "wb") as o:
                    shutil.copyfileobj(i, o)
            else:
                if run(["zstd", "-q", "-d", "-f", src, "-o", dst]).returncode != 0:
                    raise Failure(f"cannot decompress {src} (is zstd installed?)")
            os.unlink(src)


def extract_vmlinux(bzimage: str, dest: str) -> None:
    """Unpack the ELF vmlinux from an XZ-compressed bzImage, if possible.

    QEMU boots an ELF vmlinux with a PVH note directly, which skips the
    kernel's self-decompression: about 7 s under TCG.
    """
    with open(bzimage, "rb") as f:
        data = f.read()
    i = data.find(b"\xfd7zXZ\x00")
    if i < 0:
        debug("kernel image is not XZ-compressed; booting the bzImage")
        return
    try:
        out = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[i:])
    except lzma.LZMAError as e:
        debug(f"cannot unpack vmlinux ({e}); booting the bzImage")
        return
    # Only useful if QEMU can boot it: an ELF with a Xen PVH entry note.
    if out[:4] != b"\x7fELF" or b"Xen\x00" not in out:
        return
    with open(dest, "wb") as f:
        f.write(out)


def build_kernel(cache: str, version: str) -> None:
    """Download, unpack and depmod the kernel into cache/VERSION (atomically)."""
    kdir = os.path.join(cache, version)
    if os.path.isdir(kdir):  # incomplete leftover from an older format or a crash
        shutil.rmtree(kdir)
    tmp = tempfile.mkdtemp(prefix=".tmp-kernel-", dir=cache)
    os.chmod(tmp, 0o755)
    try:
        log(f"preparing kernel {version} (one-off; cached in {kdir})")
        pkg = f"linux-image-{version}"
        dl = os.path.join(tmp, "dl")
        os.mkdir(dl)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if (
            run(
                ["apt-get", "-q", "-o", "APT::Sandbox::User=root", "download", pkg], cwd=dl, env=env
            ).returncode
            != 0
        ):
            run(["apt-get", "-q", "update"], env=env)
            if (
                run(
                    ["apt-get", "-q", "-o", "APT::Sandbox::User=root", "download", pkg],
                    cwd=dl,
                    env=env,
                ).returncode
                != 0
            ):
                raise Failure(f"apt-get download {pkg} failed")
        debs = [f for f in os.listdir(dl) if f.endswith(".deb")]
        if len(debs) != 1:
            raise Failure(f"expected one .deb for {pkg}, found {debs}")
        x = os.path.join(tmp, "x")
        if run(["dpkg-deb", "-x", os.path.join(dl, debs[0]), x]).returncode != 0:
            raise Failure(f"dpkg-deb -x {debs[0]} failed")
        vmlinuz = os.path.join(x, "boot", f"vmlinuz-{version}")
        if not os.path.isfile(vmlinuz):
            raise Failure(f"{pkg} has no boot/vmlinuz-{version}")
        os.rename(vmlinuz, os.path.join(tmp, "vmlinuz"))
        extract_vmlinux(os.path.join(tmp, "vmlinuz"), os.path.join(tmp, "vmlinux"))
        config = os.path.join(x, "boot", f"config-{version}")
        if os.path.isfile(config):
            os.rename(config, os.path.join(tmp, "config"))
        for cand in ("lib/modules", "usr/lib/modules"):
            src = os.path.join(x, cand, version)
            if os.path.isdir(src):
                break
        else:
            raise Failure(f"{pkg} has no lib/modules/{version}")
        os.makedirs(os.path.join(tmp, "lib", "modules"))
        moddir = os.path.join(tmp, "lib", "modules", version)
        os.rename(src, moddir)
        shutil.rmtree(x)
        shutil.rmtree(dl)
        decompress_modules(moddir)
        # ensure_host_packages has installed depmod, maybe in an sbin directory PATH lacks
        if run([which("depmod") or "depmod", "-b", tmp, version]).returncode != 0:
            raise Failure("depmod failed")
        with open(os.path.join(tmp, "complete"), "w") as f:
            f.write(CACHE_FORMAT + "\n")
        try:
            os.rename(tmp, kdir)
        except OSError as e:
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def kernel_image(kdir: str) -> str:
    """The kernel file QEMU boots: the unpacked vmlinux, unless absent or BB_VM_BZIMAGE is set."""
    vmlinux = os.path.join(kdir, "vmlinux")
    if os.path.isfile(vmlinux) and not os.environ.get("BB_VM_BZIMAGE"):
        return vmlinux
    return os.path.join(kdir, "vmlinuz")
