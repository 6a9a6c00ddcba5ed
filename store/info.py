"""What `bb info` reports about the host and the store."""

from __future__ import annotations

import os
import platform
from typing import Any

from bb.store.store import Store


def _memory(field: str) -> int:
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _runtime_version() -> str:
    from bb.errors import BBError
    from bb.system.tools import run_tool

    try:
        return run_tool("runc", "--version").splitlines()[0]
    except BBError as failure:
        return f"unavailable ({failure})"


def store_info(store: Store) -> dict[str, Any]:
    """Host facts, store roots, driver status rows and object counts."""
    return {
        "host": {
            "os": platform.system().lower(),
            "arch": platform.machine(),
            "kernel": platform.release(),
            "cpus": os.cpu_count(),
            "MemTotal": _memory("MemTotal"),
            "MemFree": _memory("MemAvailable"),
            "OCIRuntime": _runtime_version(),
        },
        "store": {
            "GraphRoot": store.root,
            "RunRoot": store.run_root,
            "GraphDriverName": store.driver.name,
            "GraphOptions": store.driver.options,
            "GraphStatus": dict(store.driver.status()),
            "ImageStore": {"number": len(store.images.list())},
            "ContainerStore": {"number": len(store.containers.list())},
        },
    }
