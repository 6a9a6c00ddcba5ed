"""What `bb info` reports about the host and the store."""

from __future__ import annotations

import os
import platform
from typing import Any

from bb.store.store import Store


def _memory_total() -> int:
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def store_info(store: Store) -> dict[str, Any]:
    """Host facts, store roots, driver status rows and object counts."""
    return {
        "host": {
            "os": platform.system().lower(),
            "arch": platform.machine(),
            "kernel": platform.release(),
            "cpus": os.cpu_count(),
            "MemTotal": _memory_total(),
            "OCIRuntime": "runc",
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
