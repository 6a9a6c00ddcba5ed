"""`bb commit`: turn the working container's changes into a layer and an image."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bb.archive.changes import Change, tree_changes
from bb.archive.layer_tar import write_layer_tar
from bb.image.config import (
    FORMAT_OCI,
    build_manifest,
    check_format,
    timestamp_from_epoch,
    timestamp_now,
)
from bb.store.images import ImageRecord, normalize_name
from bb.system.atomic import canonical_json
from bb.system.progress import SILENT, Progress
from bb.working_container.container import WorkingContainer


@dataclass
class CommitOptions:
    """What `bb commit` asks for."""

    names: list[str] = field(default_factory=list)
    squash: bool = False
    image_format: str = FORMAT_OCI
    #: seconds since the epoch: fixes created times and every file's mtime (reproducible builds)
    timestamp: int | None = None
    created_by: str | None = None
    #: the caller removes the container once it is committed: the new layer may take over its files
    discard_container: bool = False
    #: where the new layer's writing is shown
    progress: Progress = SILENT


@contextlib.contextmanager
def _layer_changes(
    container: WorkingContainer, squash: bool
) -> Iterator[tuple[str, list[Change], str | None]]:
    """(content root, changes, parent layer) for the new layer."""
    driver = container.store.driver
    if squash:
        with container.mounted() as rootfs:
            yield rootfs, tree_changes(rootfs, None), None
        return
    with container.mounted():
        with driver.changes(container.id, container.record.parent_layer) as (root, changes):
            yield root, changes, container.record.parent_layer


def _history(
    container: WorkingContainer, created: str, has_layer: bool, squash: bool, created_by: str | None
) -> list[dict[str, Any]]:
    """The new image's history: the base's, each config-only step, one entry for the new layer."""
    history = copy.deepcopy(container.image_config.get("history") or [])
    if squash:
        for entry in history:
            entry["empty_layer"] = True
    layer_steps = []
    for step in container.pending_history:
        if step["empty_layer"] or not has_layer:
            history.append(
                {"created": created, "created_by": step["created_by"], "empty_layer": True}
            )
        else:
            layer_steps.append(step["created_by"])
    if has_layer:
        history.append(
            {
                "created": created,
                "created_by": created_by or " && ".join(layer_steps) or "bb commit",
            }
        )
    return history


def commit_step(container: WorkingContainer, options: CommitOptions) -> ImageRecord:
    """Write the container's changes as a new layer and store the resulting image."""
    check_format(options.image_format)
    names = [normalize_name(name) for name in options.names]
    store = container.store
    created = (
        timestamp_now() if options.timestamp is None else timestamp_from_epoch(options.timestamp)
    )
    with store.content_in_flight():
        new_layer = None
        with _layer_changes(container, options.squash) as (content_root, changes, parent):
            if changes or options.squash:
                with store.blobs.writer() as layer_blob:
                    bar = options.progress.start("Writing", "layer", None)
                    layer_blob.observer = bar.advance
                    write_layer_tar(layer_blob, content_root, changes, options.timestamp)
                    bar.finish(layer_blob.digest)
                reuse_files_from = content_root if options.discard_container else None
                # Once the layer shares the container's files, the container must never run again,
                # even should this process die now (a failed layer is deleted, links and all).
                with (
                    store.containers.removal_begun(container.id)
                    if reuse_files_from
                    else contextlib.nullcontext()
                ):
                    new_layer = store.layers.ensure_from_blob(
                        parent, layer_blob.digest, layer_blob.size, created, reuse_files_from
                    )
        layers = [] if options.squash else store.layers.chain(container.record.parent_layer)
        if new_layer is not None:
            layers.append(new_layer)
        config = copy.deepcopy(container.image_config)
        config["created"] = created
        config["rootfs"] = {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]}
        config["history"] = _history(
            container, created, new_layer is not None, options.squash, options.created_by
        )
        config_bytes = canonical_json(config)
        config_digest = store.blobs.put(config_bytes)
        manifest, media_type = build_manifest(
            config_digest,
            len(config_bytes),
            [(layer.diff_id, layer.size) for layer in layers],
            options.image_format,
            container.manifest_annotations,
        )
        manifest_digest = store.blobs.put(manifest)
        record = ImageRecord(
            id=config_digest.split(":", 1)[1],
            names=names,
            layers=[layer.id for layer in layers],
            manifest_digest=manifest_digest,
            manifest_media_type=media_type,
            created=created,
            size=sum(layer.size for layer in layers),
        )
        with store.lock():
            return store.images.add(record)
