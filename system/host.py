"""Facts about the machine bb runs on, for `bb info`."""

from __future__ import annotations

import os
import platform
from typing import Any

from bb.errors import BBError
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
