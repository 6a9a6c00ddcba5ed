"""What `bb info` reports about the store."""

from __future__ import annotations

from typing import Any

from bb.store.store import Store


def store_info(store: Store) -> dict[str, Any]:
    """Store roots, driver status rows and object counts."""
    return {
        "GraphRoot": store.root,
        "RunRoot": store.run_root,
        "GraphDriverName": store.driver.name,
        "GraphOptions": store.driver.options,
        "GraphStatus": dict(store.driver.status()),
        "ImageStore": {"number": len(store.images.list())},
        "ContainerStore": {"number": len(store.containers.list())},
    }
