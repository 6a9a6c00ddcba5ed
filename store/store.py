"""The store: one graph root holding blobs, layers, images and working containers on one driver.

Layout of the graph root:
  storage.lock        held exclusively while records that must agree are changed
  storage-driver      the driver whose layers this store holds
  blobs/sha256/       content: layer tars, configs, manifests
  layers/ images/ containers/   records (see their modules)
  locks/              per-layer lock files; gc.lock (see content_in_flight)
  gc-pending          garbage collection was deferred while others were busy
  tmp/                blobs being written (named by the writing process's PID)
  compressed/         pushed layers' compressed digest and size, by diff ID and compression
  build-cache/        `bb build --layers`: the image committed for each step key (build_cache.py)
  run-cache/          RUN --mount=type=cache directories by id (run_cache.py; `bb prune` empties)
  <driver name>/      the driver's home
Run root: `mounts/<container id>` marks a container mounted by `bb mount`; `bundles/` and `runc/`
hold the steps running now (see bb.runtime.runc).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import bb.drivers  # noqa: F401  (registers the drivers)
from bb.drivers.base import PRIORITY, Driver, driver_class
from bb.errors import BBError, StoreError
from bb.runtime.runc import reap_abandoned
from bb.store.blobs import BlobStore
from bb.store.config import StoreOptions
from bb.store.containers import ContainerRecord, ContainerStore
from bb.store.images import ImageStore
from bb.store.layers import LayerStore
from bb.system.atomic import remove_entry, remove_file, write_atomic
from bb.system.locks import FileLock, is_locked_by_other
from bb.system.mounts import mount_points


def _select_driver(options: StoreOptions, recorded: str | None, holds_layers: bool) -> str:
    """The driver to use: the requested one, else the store's own, else the first that runs here."""
    if options.driver:
        if recorded and recorded != options.driver and holds_layers:
            raise StoreError(
                f'store {options.graph_root} holds layers of storage driver "{recorded}"; '
                f'cannot use "{options.driver}" (pick another --root, or remove the store)'
            )
        return options.driver
    if recorded:
        return recorded
    reasons = []
    for name in PRIORITY:
        try:
            driver_class(name).check_supported()
            return name
        except BBError as failure:
            reasons.append(str(failure))
    raise StoreError("no storage driver can run here: " + "; ".join(reasons))


class Store:
    """An opened store. Open it with `Store.open(options)`."""

    def __init__(self, options: StoreOptions, driver: Driver):
        self.options = options
        self.root = options.graph_root
        self.run_root = options.run_root
        self.driver = driver
        self.locks_dir = os.path.join(self.root, "locks")
        self.temp_dir = os.path.join(self.root, "tmp")
        self.compressed_dir = os.path.join(self.root, "compressed")
        self.build_cache_dir = os.path.join(self.root, "build-cache")
        self.run_cache_dir = os.path.join(self.root, "run-cache")
        self.mounts_dir = os.path.join(self.run_root, "mounts")
        #: what a RUN step's mounts need for as long as it runs (secrets, copies of rw binds),
        #: each in a `<pid>-...` directory: a dead process's are removed by the next repair
        self.step_mounts_dir = os.path.join(self.run_root, "step-mounts")
        for directory in (self.locks_dir, self.temp_dir, self.mounts_dir, self.step_mounts_dir):
            os.makedirs(directory, mode=0o700, exist_ok=True)
        self.blobs = BlobStore(os.path.join(self.root, "blobs"), self.temp_dir)
        self.layers = LayerStore(self)
        self.images = ImageStore(self)
        self.containers = ContainerStore(self)
        # nesting of mounted() per container in this process, so inner blocks don't unmount
        self._mount_depth: dict[str, int] = {}

    @classmethod
    def open(cls, options: StoreOptions, repair: bool = True) -> Store:
        """Open (or create) the store; with `repair`, first roll back what dead processes left."""
        if options.driver:
            # a driver that cannot run here is refused before anything is created
            driver_class(options.driver).check_supported()
        for directory in (options.graph_root, options.run_root):
            os.makedirs(directory, mode=0o700, exist_ok=True)
        with FileLock(os.path.join(options.graph_root, "storage.lock")):
            driver_file = os.path.join(options.graph_root, "storage-driver")
            recorded = None
            if os.path.exists(driver_file):
                with open(driver_file, encoding="utf-8") as recorded_file:
                    recorded = recorded_file.read().strip() or None
            name = _select_driver(options, recorded, _holds_layers(options.graph_root))
            if name != recorded:
                write_atomic(driver_file, name.encode() + b"\n")
            home = os.path.join(options.graph_root, name)
            run_home = os.path.join(options.run_root, name)
            for directory in (home, run_home):
                os.makedirs(directory, mode=0o700, exist_ok=True)
            driver = driver_class(name)(home, run_home, options.options_for(name))
        store = cls(options, driver)
        if repair:
            store._repair()
        return store

    def lock(self) -> FileLock:
        """The store-wide lock (use as a context manager)."""
        return FileLock(os.path.join(self.root, "storage.lock"))

    @contextlib.contextmanager
    def content_in_flight(self) -> Iterator[None]:
        """Hold while writing blobs and layers that nothing references yet (e.g. commit's).

        Garbage collection needs this lock exclusively, so it never deletes
        content between its creation and the record that will reference it.
        A `<pid>-in-flight-...` file in tmp/ lasts as long: should the process die
        in between, the next bb's repair finds it stale and collects the garbage.
        Take it before the store lock, never while holding that.
        """
        with FileLock(os.path.join(self.locks_dir, "gc.lock"), shared=True):
            marker = os.path.join(self.temp_dir, f"{os.getpid()}-in-flight-{os.urandom(4).hex()}")
            open(marker, "wb").close()
            try:
                yield
            finally:
                remove_file(marker)

    def builds_running(self, shared: bool = True) -> FileLock:
        """Held shared by every `bb build` while it runs, exclusively by `bb rmi --prune`.

        A build's images have no name until it names the last one, so a prune waits for the
        running builds to finish rather than remove their images from under them.
        Take it before the store lock, never while holding that.
        """
        return FileLock(os.path.join(self.locks_dir, "builds.lock"), shared=shared)

    # --- mounts -------------------------------------------------------------

    def _user_mount_marker(self, container_id: str) -> str:
        return os.path.join(self.mounts_dir, container_id)

    def hold_user_mount(self, container_id: str) -> None:
        """Record that `bb mount` keeps this container mounted."""
        write_atomic(self._user_mount_marker(container_id), b"")

    def release_user_mount(self, container_id: str) -> None:
        """Forget a `bb mount` hold."""
        remove_file(self._user_mount_marker(container_id))

    def user_mounted(self, container_id: str) -> bool:
        """Whether `bb mount` holds the container mounted."""
        return os.path.exists(self._user_mount_marker(container_id))

    @contextlib.contextmanager
    def mounted(self, record: ContainerRecord) -> Iterator[str]:
        """The container's root, mounted for the block (left mounted if `bb mount` holds it)."""
        path = self.driver.mount(record.id)
        self._mount_depth[record.id] = self._mount_depth.get(record.id, 0) + 1
        try:
            yield path
        except Exception:
            # a full thin pool is the error to report, not the write it made fail
            self.driver.check_space()
            raise
        finally:
            self._mount_depth[record.id] -= 1
            if not self._mount_depth[record.id] and not self.user_mounted(record.id):
                self.driver.unmount(record.id)

    # --- repair and garbage collection -------------------------------------

    def _repair(self) -> None:
        """Roll back creations and deletions whose process died; unmount what they left mounted."""
        # first the steps they left running, which keep their containers' roots busy
        reap_abandoned(self.run_root)
        stale_layers = [
            i for i in self.layers.incomplete() if not is_locked_by_other(self.layers.lock_path(i))
        ]
        stale_containers = self.containers.incomplete()
        stale_temp = [name for name in os.listdir(self.temp_dir) if not _writer_alive(name)]
        for name in stale_temp:
            remove_entry(os.path.join(self.temp_dir, name))
        for name in os.listdir(self.step_mounts_dir):
            if not _writer_alive(name):
                remove_entry(os.path.join(self.step_mounts_dir, name))
        for container_id in stale_containers:
            self.containers.delete_if_abandoned(container_id)
        for layer_id in stale_layers:
            self.layers.delete_if_unused(layer_id)
        self._unmount_abandoned_containers()
        self.driver.cleanup()
        if stale_layers or stale_containers or stale_temp or os.path.exists(self._gc_pending):
            self.collect_garbage()

    @property
    def _gc_pending(self) -> str:
        return os.path.join(self.root, "gc-pending")

    def _unmount_abandoned_containers(self) -> None:
        """Unmount containers mounted by a bb process that died mid-operation."""
        if not any(point.startswith(self.driver.home + "/") for point in mount_points()):
            return
        for record in self.containers.list():
            if self.user_mounted(record.id) or not self.driver.is_mounted(record.id):
                continue
            lock = self.containers.lock(record)
            if lock.acquire(blocking=False):
                try:
                    self.driver.unmount(record.id)
                finally:
                    lock.release()

    def collect_garbage(self) -> None:
        """Delete layers and blobs no image or container references.

        When another process has content in flight, collection is deferred
        (marked in `gc-pending`) to the next bb that finds the store idle.
        """
        in_flight = FileLock(os.path.join(self.locks_dir, "gc.lock"))
        if not in_flight.acquire(blocking=False):
            write_atomic(self._gc_pending, b"")
            return
        try:
            with self.lock():
                self._collect_garbage_locked()
                remove_file(self._gc_pending)
        finally:
            in_flight.release()

    def _collect_garbage_locked(self) -> None:
        images = self.images.list()
        referenced_layers: set[str] = set()
        for image in images:
            referenced_layers.update(image.layers)
        for container in self.containers.all_records():
            if container.parent_layer and self.layers.exists(container.parent_layer):
                referenced_layers.update(
                    layer.id for layer in self.layers.chain(container.parent_layer)
                )
        # Deleting from the top keeps every remaining layer's parent present.
        unused = [layer for layer in self.layers.list() if layer.id not in referenced_layers]
        depth = {layer.id: len(self.layers.chain(layer.id)) for layer in unused}
        for layer in sorted(unused, key=lambda layer: depth[layer.id], reverse=True):
            self.layers.delete_if_unused(layer.id)
        referenced_blobs = {layer.diff_id for layer in self.layers.list()}
        # imported here: collecting garbage is rare, opening the store is every command
        from bb.store.build_cache import prune_build_cache
        from bb.store.compressed_layers import prune_compressed_layers

        prune_compressed_layers(self.compressed_dir, referenced_blobs)
        prune_build_cache(self.build_cache_dir, {image.id for image in images})
        for image in images:
            referenced_blobs.update({image.config_digest, image.manifest_digest})
            referenced_blobs.update(image.extra.get("blobs", []))
        for digest in self.blobs.list():
            if digest not in referenced_blobs:
                self.blobs.remove(digest)


def _writer_alive(temp_name: str) -> bool:
    """Whether the process that named a temp file `<pid>-...` still runs."""
    pid = temp_name.split("-", 1)[0]
    return pid.isdigit() and os.path.exists(f"/proc/{pid}")


def _holds_layers(graph_root: str) -> bool:
    """Whether a store already has layers or containers (and so is bound to its driver)."""
    for sub in ("layers", "containers"):
        directory = os.path.join(graph_root, sub)
        if os.path.isdir(directory) and any(not n.startswith(".") for n in os.listdir(directory)):
            return True
    return False
