"""The host's side: helper commands, and the Debian packages run-in-vm needs."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from typing import Any

from .report import Failure, debug, log

BUSYBOX = "/bin/busybox"
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Host command -> Debian package providing it (installed when missing).
REQUIRED_COMMANDS = [
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("cpio", "cpio"),
    ("depmod", "kmod"),
    ("dmsetup", "dmsetup"),
    ("thin_check", "thin-provisioning-tools"),
    ("mkfs.xfs", "xfsprogs"),
    ("mkfs.ext4", "e2fsprogs"),
    ("lvcreate", "lvm2"),
    ("losetup", "mount"),
    ("apt-get", "apt"),
    ("dpkg-deb", "dpkg"),
]


def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
    """Run a helper; its output goes to our stderr, never to stdout."""
    kw.setdefault("stdout", sys.stderr)
    kw.setdefault("stdin", subprocess.DEVNULL)
    debug("$ " + shlex.join(cmd))
    kw.setdefault("check", False)
    return subprocess.run(cmd, **kw)  # noqa: PLW1510 (check set above)


def which(name: str) -> str | None:
    """The path of command `name` on PATH or in the sbin directories, if any."""
    return shutil.which(name, path=os.environ.get("PATH", "") + ":" + SBIN_PATH)


def is_static_elf(path: str) -> bool:
    """True if path is an ELF executable without a program interpreter."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit only
                return False
            phoff = int.from_bytes(head[0x20:0x28], "little")
            phentsize = int.from_bytes(head[0x36:0x38], "little")
            phnum = int.from_bytes(head[0x38:0x3A], "little")
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    for i in range(phnum):
        if int.from_bytes(table[i * phentsize : i * phentsize + 4], "little") == 3:  # PT_INTERP
            return False
    return True


def apt_get(args: list[str]) -> None:
    """Run apt-get ARGS, updating the package lists and retrying once if it fails."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    base = ["apt-get", "-q", "-o", "DPkg::Lock::Timeout=300"]
    if run(base + args, env=env).returncode != 0:
        run(base + ["update"], env=env)
        if run(base + args, env=env).returncode != 0:
            raise Failure(f"apt-get {' '.join(args)} failed")


def ensure_host_packages() -> None:
    """Install the Debian packages of missing REQUIRED_COMMANDS and of a static busybox."""
    missing = [pkg for cmd, pkg in REQUIRED_COMMANDS if not which(cmd)]
    if not is_static_elf(BUSYBOX):
        missing.append("busybox-static")
    if missing:
        log(f"installing missing Debian packages: {' '.join(missing)}")
        apt_get(["install", "-y", "--no-install-recommends", *missing])
        still = [pkg for cmd, pkg in REQUIRED_COMMANDS if not which(cmd)]
        if not is_static_elf(BUSYBOX):
            still.append("busybox-static")
        if still:
            raise Failure(f"still missing after apt-get install: {' '.join(still)}")
