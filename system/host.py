"""Facts about the machine bb runs on: for `bb info`, and whether it can run another
architecture's programs (qemu-user through binfmt_misc)."""

from __future__ import annotations

import os
import platform
from typing import Any

from bb.errors import BBError, EmulationUnavailable
from bb.image.platform import Platform
from bb.system.tools import run_tool


def _memory(field: str) -> int:
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _runtime_version() -> str:
    try:
        return run_tool("runc", "--version").splitlines()[0]
    except BBError as failure:
        return f"unavailable ({failure})"


def host_facts() -> dict[str, Any]:
    """OS, architecture, kernel, CPUs, memory and the OCI runtime's version."""
    return {
        "os": platform.system().lower(),
        "arch": platform.machine(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "MemTotal": _memory("MemTotal"),
        "MemFree": _memory("MemAvailable"),
        "SwapTotal": _memory("SwapTotal"),
        "SwapFree": _memory("SwapFree"),
        "OCIRuntime": _runtime_version(),
    }


BINFMT_MISC = "/proc/sys/fs/binfmt_misc"
# architectures a machine runs natively besides its own (the kernel's 32-bit compat mode)
_NATIVE = {"amd64": {"386"}}


def check_emulation(platform: Platform) -> None:
    """Refuse, saying what to install or run, to run `platform`'s programs on a machine of
    another architecture unless binfmt_misc hands them to a registered qemu-user interpreter
    with the F flag (the kernel opened the interpreter at registration, so it works inside a
    container's root, where no qemu is; bb never copies one into an image)."""
    host = Platform.host()
    if platform.architecture in ("", host.architecture, *_NATIVE.get(host.architecture, ())):
        return
    handler = f"qemu-{platform.machine}"
    install = (
        f"apt-get install qemu-user-static binfmt-support, then update-binfmts --enable {handler}"
    )
    try:
        with open(os.path.join(BINFMT_MISC, handler), encoding="ascii") as entry:
            lines = entry.read().splitlines()
    except FileNotFoundError:
        if not os.path.exists(os.path.join(BINFMT_MISC, "status")):
            reason, install = (
                f"binfmt_misc is not mounted on {BINFMT_MISC}",
                f"mount -t binfmt_misc binfmt_misc {BINFMT_MISC}; {install}",
            )
        else:
            reason = f"no {handler} handler is registered in {BINFMT_MISC}"
    except OSError as failure:
        reason = f"cannot read {BINFMT_MISC}/{handler}: {failure.strerror}"
    else:
        flags = next((line.split(":", 1)[1] for line in lines if line.startswith("flags:")), "")
        if lines[:1] != ["enabled"]:
            reason = f"the {handler} handler of binfmt_misc is disabled"
        elif "F" not in flags:
            reason = f"the {handler} handler is registered without the F (fix binary) flag"
            install = f"qemu-user-static registers it with F: update-binfmts --enable {handler}"
        else:
            return
    raise EmulationUnavailable(
        f"running {platform} programs on this {host.machine} machine needs qemu-user emulation: "
        f"{reason} ({install})"
    )
