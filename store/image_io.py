"""Images coming into the store from outside (pull, load, import), checked before they count."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

from bb.archive.compression import decompressed
from bb.archive.layer_tar import COPY_BUFFER
from bb.errors import ArchiveError, Stopped
from bb.image.config import FORMAT_OCI, build_manifest, new_image_config, timestamp_now
from bb.image.platform import Platform
from bb.store.images import ImageRecord, normalize_name
from bb.store.store import Store
from bb.system.atomic import canonical_json
from bb.system.limits import parse_json_document
from bb.system.parallel import at_once

LayerOpener = Callable[[], contextlib.AbstractContextManager[BinaryIO]]


def _store_layer_blob(
    store: Store, open_layer: LayerOpener, stop: threading.Event
) -> tuple[str, int]:
    """Write one layer, uncompressed, as a blob; return (diff ID, size). Gives up once `stop`
    is set (another layer failed, or bb was interrupted)."""
    with open_layer() as raw, store.blobs.writer() as blob:
        try:
            stream = decompressed(raw)
            for chunk in iter(lambda: stream.read(COPY_BUFFER), b""):
                if stop.is_set():
                    raise Stopped("stopped")
                blob.write(chunk)
        except (OSError, EOFError, ValueError) as failure:
            raise ArchiveError(f"reading layer: {failure}") from None
    return blob.digest, blob.size


def add_image(
    store: Store,
    config: bytes | Callable[[list[str]], bytes],
    layers: Sequence[LayerOpener],
    names: list[str],
    image_format: str = FORMAT_OCI,
    extra: dict[str, Any] | None = None,
) -> ImageRecord:
    """Store an image from its config and layer streams (any compression), bottom layer first.

    Every layer is hashed as it is written and must match the diff ID the
    config names (a callable config is made from the computed diff IDs, for
    `bb import`). Nothing is recorded until all checks pass; on failure what
    was written is collected again, so the store is as it was.
    """
    normalized = [normalize_name(name) for name in names]
    try:
        with store.content_in_flight():
            stored = at_once(
                [functools.partial(_store_layer_blob, store, layer) for layer in layers]
            )
            diff_ids = [diff_id for diff_id, _ in stored]
            config_bytes = config(diff_ids) if callable(config) else config
            document = parse_json_document(config_bytes, "image config")
            try:
                expected = document["rootfs"]["diff_ids"]
            except (KeyError, TypeError):
                expected = None
            if not isinstance(expected, list):
                raise ArchiveError("image config has no list of rootfs.diff_ids")
            if expected != diff_ids:
                for index, (wanted, found) in enumerate(zip(expected, diff_ids)):
                    if wanted != found:
                        raise ArchiveError(
                            f"layer {index + 1}: content digest {found} "
                            f"does not match {wanted} in the image config"
                        )
                raise ArchiveError(
                    f"image config names {len(expected)} layers, the image has {len(diff_ids)}"
                )
            created = timestamp_now()
            parent = None
            records = []
            for diff_id, size in stored:
                layer = store.layers.ensure_from_blob(parent, diff_id, size, created)
                records.append(layer)
                parent = layer.id
            config_digest = store.blobs.put(config_bytes)
            manifest, media_type = build_manifest(
                config_digest,
                len(config_bytes),
                [(layer.diff_id, layer.size) for layer in records],
                image_format,
            )
            record = ImageRecord(
                id=config_digest.split(":", 1)[1],
                names=normalized,
                layers=[layer.id for layer in records],
                manifest_digest=store.blobs.put(manifest),
                manifest_media_type=media_type,
                created=str(document.get("created") or created),
                size=sum(layer.size for layer in records),
                extra=dict(extra or {}),
            )
            with store.lock():
                return store.images.add(record)
    except BaseException:
        store.collect_garbage()
        raise


def rootfs_config(
    diff_ids: list[str],
    created_by: str,
    created: str | None = None,
    platform: Platform | None = None,
) -> bytes:
    """The config of an image made from a root file system tarball (`bb import`), for this
    machine or `platform`."""
    document = new_image_config(platform)
    when = created or timestamp_now()
    document["created"] = when
    document["rootfs"]["diff_ids"] = diff_ids
    document["history"] = [{"created": when, "created_by": created_by}]
    return canonical_json(document)


@contextlib.contextmanager
def opened_file(path: str) -> Any:
    """A file opened for reading (a LayerOpener for a path)."""
    with open(path, "rb") as stream:
        yield stream
