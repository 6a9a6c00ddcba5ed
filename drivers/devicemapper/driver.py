"""The devicemapper driver: every layer a thin snapshot of its parent in a dm-thin pool.

Layout under the driver's home (`<root>/devicemapper`):
  devicemapper/data, devicemapper/metadata   sparse files of a loop-lvm pool
  pool.json, devices/, transaction.json      see devices.py
  mnt/<layer id>                             where a layer's device is mounted
  pool.lock                                  held while the pool or devices change
A layer's tree is the `rootfs` directory inside its device's filesystem, so
the filesystem's own lost+found never shows in a container or an image.
Devices are active only while mounted: bb has no daemon to keep them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
from collections.abc import Iterator
from typing import BinaryIO

from bb.archive.changes import Change, tree_changes
from bb.drivers.base import Driver, ensure_directory
from bb.drivers.devicemapper import lvm
from bb.drivers.devicemapper.devices import DeviceRecord, DeviceStore
from bb.drivers.devicemapper.options import OPTION_NAMES, DeviceMapperOptions, parse_options
from bb.drivers.devicemapper.pool import (
    ThinPool,
    active_devices,
    device_is_active,
    dmsetup,
    open_existing_pool,
    open_loop_pool,
    set_log_level,
)
from bb.errors import DriverError, DriverNotSupported, InvalidArgument, LayerNotFound, ToolFailed
from bb.system.locks import FileLock
from bb.system.mounts import filesystem_type, is_mounted, mount, mount_points, unmount
from bb.system.tools import run_tool
from bb.system.units import human_size

ROOTFS = "rootfs"
_view_counter = itertools.count()


class DeviceMapperDriver(Driver):
    """Layers as dm-thin snapshots, each with its own ext4 or xfs filesystem."""

    name = "devicemapper"
    option_names = OPTION_NAMES

    def __init__(self, home: str, run_home: str, options: dict[str, str]):
        super().__init__(home, run_home, options)
        self.settings: DeviceMapperOptions = parse_options(options)
        set_log_level(self.settings.log_level)
        if not os.path.exists("/run/udev/control"):
            # no udev to make /dev/mapper nodes: libdevmapper makes them itself
            os.environ["DM_DISABLE_UDEV"] = "1"
        info = os.stat(home)
        self.prefix = f"bb-{os.major(info.st_dev)}:{os.minor(info.st_dev)}-{info.st_ino}"
        self.loop_dir = os.path.join(home, "devicemapper")
        self.mount_dir = ensure_directory(os.path.join(home, "mnt"))
        self._pool_lock = FileLock(os.path.join(home, "pool.lock"))
        self._lock_depth = 0
        self._pool: ThinPool | None = None
        self._devices: DeviceStore | None = None

    def _open_pool(self) -> None:
        """Attach (or create) the pool, finish an interrupted transaction, make the base device.

        Done on first use, not at start-up, so commands that never touch a
        layer (bb images, bb config) don't pay for it.
        """
        with self._locked():
            if self._devices is not None:
                return
            if self.settings.directlvm_device:
                pool = lvm.open_direct_lvm_pool(self.home, self.settings)
            elif self.settings.thinpooldev:
                pool = open_existing_pool(self.settings.thinpooldev)
            else:
                ensure_directory(self.loop_dir)
                pool = open_loop_pool(
                    f"{self.prefix}-pool",
                    os.path.join(self.loop_dir, "data"),
                    os.path.join(self.loop_dir, "metadata"),
                    self.settings.loop_data_size,
                    self.settings.loop_metadata_size,
                    self.settings.block_sectors,
                )
            devices = DeviceStore(self.home, pool)
            devices.recover()
            self._pool, self._devices = pool, devices
            self._delete_deferred()
            self._ensure_base_device()

    @property
    def pool(self) -> ThinPool:
        """The thin pool, attached on first use."""
        self._open_pool()
        assert self._pool is not None
        return self._pool

    @property
    def devices(self) -> DeviceStore:
        """The device records, read on first use."""
        self._open_pool()
        assert self._devices is not None
        return self._devices

    @classmethod
    def check_supported(cls) -> None:
        """The kernel must have device-mapper's thin-pool target, and dmsetup must be installed."""
        has_device_mapper = os.path.exists("/dev/mapper/control")
        if not has_device_mapper:
            with contextlib.suppress(OSError), open("/proc/misc", encoding="ascii") as misc:
                has_device_mapper = "device-mapper" in misc.read()
        if not has_device_mapper:
            raise DriverNotSupported(
                "storage driver devicemapper: not supported: the kernel has no device-mapper "
                "(load it with `modprobe dm_mod`, or use another driver)"
            )
        if shutil.which("dmsetup") is None:
            raise DriverNotSupported(
                "storage driver devicemapper: dmsetup is not installed (apt-get install dmsetup)"
            )
        # a loaded module shows in sysfs; asking dmsetup costs a process
        if not os.path.isdir("/sys/module/dm_thin_pool") and "thin-pool" not in run_tool(
            "dmsetup", "targets"
        ):
            raise DriverNotSupported(
                "storage driver devicemapper: not supported: the kernel has no dm-thin-pool target "
                "(load it with `modprobe dm_thin_pool`)"
            )

    # --- locking and names ---------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the pool lock (re-entrant within this process)."""
        if self._lock_depth == 0:
            self._pool_lock.acquire()
        self._lock_depth += 1
        try:
            yield
        finally:
            self._lock_depth -= 1
            if self._lock_depth == 0:
                self._pool_lock.release()

    def _device_name(self, layer_id: str) -> str:
        return f"{self.prefix}-{layer_id}"

    def _record(self, layer_id: str) -> DeviceRecord:
        record = self.devices.get(layer_id)
        if record is None:
            raise LayerNotFound(layer_id)
        return record

    def _mount_options(self, read_only: bool) -> str:
        options = ["ro"] if read_only else []
        if self.settings.filesystem == "xfs":
            options.append("nouuid")  # every snapshot of the base shares its UUID
        if self.settings.mount_options:
            options.append(self.settings.mount_options)
        return ",".join(options)

    # --- the base device -------------------------------------------------------------

    def _ensure_base_device(self) -> None:
        """Create and format the base device once; every layer without a parent snapshots it."""
        record = self.devices.pool_record()
        if record.filesystem:
            if record.filesystem != self.settings.filesystem:
                raise InvalidArgument(
                    f"storage option dm.fs={self.settings.filesystem}: "
                    f"this store's devices are {record.filesystem}"
                )
            return
        if record.base_device_id is None:
            self.devices.create(None, None, self.settings.base_size)
            record = self.devices.pool_record()
        name = f"{self.prefix}-base"
        path = self.pool.activate(name, record.base_device_id, record.base_size)  # type: ignore[arg-type]
        try:
            if self.settings.filesystem == "ext4":
                run_tool(
                    "mkfs.ext4",
                    "-q",
                    "-F",
                    "-E",
                    "nodiscard,lazy_itable_init=0,lazy_journal_init=0",
                    *self.settings.mkfs_args,
                    path,
                )
                run_tool("tune2fs", "-c", "-1", "-i", "0", path)
            else:
                run_tool("mkfs.xfs", "-q", "-f", "-K", *self.settings.mkfs_args, path)
            point = ensure_directory(os.path.join(self.mount_dir, ".base"))
            mount(path, point, self.settings.filesystem, self._mount_options(read_only=False))
            try:
                os.mkdir(os.path.join(point, ROOTFS), 0o755)
            finally:
                unmount(point)
                os.rmdir(point)
            record.base_uuid = run_tool("blkid", "-s", "UUID", "-o", "value", path).strip()
        finally:
            ThinPool.deactivate(name)
        record.filesystem = self.settings.filesystem
        self.devices.save_pool_record(record)

    # --- the Driver interface ----------------------------------------------------------

    def _check_free_space(self) -> None:
        """Refuse new devices when the pool is nearly full: a full thin pool hangs or corrupts
        filesystems. A direct-lvm pool above its autoextend threshold is extended first."""
        if self.settings.directlvm_device:
            lvm.autoextend(self.pool, self.settings.autoextend_threshold)
        status = self.pool.status()
        if status.mode != "rw":
            raise DriverError(
                f'thin pool "{self.pool.name}" is {status.mode}: free space or grow the pool'
            )
        percent = self.settings.min_free_percent
        for what, used, total in (
            ("data", status.data_used, status.data_total),
            ("metadata", status.metadata_used, status.metadata_total),
        ):
            free, required = total - used, total * percent // 100
            if free < required:
                raise DriverError(
                    f'thin pool "{self.pool.name}" has {free} free {what} blocks of {total}, '
                    f"less than dm.min_free_space={percent}% ({required} blocks): "
                    "remove images or containers, or grow the pool"
                )

    def create(self, layer_id: str, parent_id: str | None, writable: bool = False) -> None:
        """A thin snapshot of the parent's device (or of the base device)."""
        with self._locked():
            if self.devices.get(layer_id) is not None:
                raise DriverError(f'layer "{layer_id}" already exists')
            self._check_free_space()
            if parent_id is None:
                base = self.devices.pool_record()
                origin = (base.base_device_id, f"{self.prefix}-base")
                size = base.base_size
            else:
                parent = self._record(parent_id)
                origin, size = (parent.device_id, self._device_name(parent_id)), parent.size
            self.devices.create(layer_id, origin, size, parent_id)  # type: ignore[arg-type]

    def remove(self, layer_id: str) -> None:
        """Unmount, deactivate and delete the layer's device, giving its blocks back.

        A device still busy (mounted in another mount namespace) is deleted later when
        dm.use_deferred_deletion is on, and refused otherwise."""
        with self._locked():
            point = os.path.join(self.mount_dir, layer_id)
            unmount(point, lazy=True)
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(point)
            name = self._device_name(layer_id)
            record = self.devices.get(layer_id)
            if record is None:
                return
            if device_is_active(name):
                with contextlib.suppress(ToolFailed):
                    run_tool("blkdiscard", f"/dev/mapper/{name}")
                self._deactivate(name)
            if device_is_active(name):
                if not self.settings.deferred_deletion:
                    raise DriverError(
                        f'layer "{layer_id}": its device {name} is busy (mounted in another '
                        "mount namespace?); not removed (dm.use_deferred_deletion=true removes "
                        "busy devices later)"
                    )
                # out of the way of a new device of the same layer id, until it can go
                device_id = self.devices.defer(layer_id)
                dmsetup("rename", name, self._deferred_name(device_id))
                return
            self.devices.delete(layer_id)

    def _deferred_name(self, device_id: int) -> str:
        return f"{self.prefix}-deferred-{device_id}"

    def _delete_deferred(self) -> None:
        """Delete the devices whose deletion was deferred, once nothing holds them."""
        for device_id, layer_id in self.devices.deferred():
            # the rename may not have happened (bb killed right before it)
            names = [self._deferred_name(device_id)]
            if self.devices.get(layer_id) is None:
                names.append(self._device_name(layer_id))
            for name in names:
                if device_is_active(name):
                    self._deactivate(name)
            if not any(device_is_active(name) for name in names):
                self.devices.delete_deferred(device_id)

    def exists(self, layer_id: str) -> bool:
        """Whether the layer has a device."""
        return self.devices.get(layer_id) is not None

    def list_layers(self) -> list[str]:
        """Every layer with a device."""
        return self.devices.layers()

    def _activate(self, layer_id: str) -> str:
        record = self._record(layer_id)
        return self.pool.activate(self._device_name(layer_id), record.device_id, record.size)

    def _deactivate(self, name: str) -> None:
        """Deactivate a device nothing has mounted any more."""
        if self._in_use(name):
            return
        try:
            ThinPool.deactivate(name, deferred=self.settings.deferred_removal)
        except ToolFailed as failure:
            if "busy" not in failure.stderr.lower():
                raise

    @staticmethod
    def _in_use(name: str) -> bool:
        path = f"/dev/mapper/{name}"
        try:
            device = os.stat(path).st_rdev
        except FileNotFoundError:
            return False
        wanted = f"{os.major(device)}:{os.minor(device)}"
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as table:
            return any(line.split()[2] == wanted for line in table)

    def mount(self, layer_id: str) -> str:
        """Activate and mount the layer's device read-write; its tree is `<mnt>/rootfs`."""
        point = os.path.join(self.mount_dir, layer_id)
        with self._locked():
            if not is_mounted(point):
                path = self._activate(layer_id)
                os.makedirs(point, mode=0o700, exist_ok=True)
                mount(path, point, self.settings.filesystem, self._mount_options(read_only=False))
                self._limit_xfs_retries(path)
        return os.path.join(point, ROOTFS)

    def _limit_xfs_retries(self, path: str) -> None:
        """dm.xfs_nospace_max_retries: how often xfs retries metadata writes a full pool failed
        (the kernel's default: for ever, which hangs the filesystem)."""
        retries = self.settings.xfs_nospace_max_retries
        if retries is None or self.settings.filesystem != "xfs":
            return
        device = os.stat(path).st_rdev
        block = os.path.realpath(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}")
        knob = f"/sys/fs/xfs/{os.path.basename(block)}/error/metadata/ENOSPC/max_retries"
        with open(knob, "w", encoding="ascii") as setting:
            setting.write(str(retries))

    def check_space(self) -> None:
        """Raise DriverError if the thin pool is full: a write that failed may be why."""
        status = self.pool.status()
        if (
            status.mode != "rw"
            or status.data_used >= status.data_total
            or status.metadata_used >= status.metadata_total
        ):
            raise DriverError(
                f'thin pool "{self.pool.name}" is full (data {status.data_used}/'
                f"{status.data_total} blocks, metadata {status.metadata_used}/"
                f"{status.metadata_total}, mode {status.mode}): remove images or containers, "
                "or grow the pool"
            )

    def unmount(self, layer_id: str) -> None:
        """Unmount and deactivate the layer's device; DriverError if the pool filled up meanwhile.

        Writes a full pool failed may have been buffered, their error seen by nobody: the
        unmount flushes them, and the pool's status says whether they were lost."""
        point = os.path.join(self.mount_dir, layer_id)
        with self._locked():
            was_mounted = is_mounted(point)
            unmount(point)
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(point)
            self._deactivate(self._device_name(layer_id))
            if was_mounted:
                self.check_space()

    def is_mounted(self, layer_id: str) -> bool:
        """Whether the layer's device is mounted at `mnt/<id>`."""
        return is_mounted(os.path.join(self.mount_dir, layer_id))

    @contextlib.contextmanager
    def read_only_view(self, layer_id: str) -> Iterator[str]:
        """The layer's tree, mounted read-only at a mount point of this process's own."""
        views = ensure_directory(os.path.join(self.run_home, "views"))
        point = os.path.join(views, f"{os.getpid()}-{next(_view_counter)}")
        with self._locked():
            path = self._activate(layer_id)
            os.mkdir(point, 0o700)
            mount(path, point, self.settings.filesystem, self._mount_options(read_only=True))
        try:
            yield os.path.join(point, ROOTFS)
        finally:
            with self._locked():
                unmount(point)
                os.rmdir(point)
                self._deactivate(self._device_name(layer_id))

    @contextlib.contextmanager
    def changes(self, layer_id: str, parent_id: str | None) -> Iterator[tuple[str, list[Change]]]:
        """Compare the layer's tree with its parent's; untouched files keep inode and ctime, so are
        skipped."""
        root = self.mount(layer_id)
        with self.parent_view(parent_id) as parent_root:
            yield root, tree_changes(root, parent_root, same_filesystem_snapshot=True)

    def apply_diff(
        self,
        layer_id: str,
        parent_id: str | None,
        layer_tar: BinaryIO,
        reuse_files_from: str | None = None,
    ) -> None:
        """Unpack into the new snapshot (a copy of the parent), deleting what whiteouts name.

        Files are never reused: the tree they come from is another device."""
        from bb.archive.extract import Whiteouts, extract_tar  # tarfile: only when applying

        root = self.mount(layer_id)
        try:
            extract_tar(layer_tar, root, Whiteouts.APPLY)
        except Exception:
            self.check_space()
            raise
        finally:
            self.unmount(layer_id)

    def status(self) -> list[tuple[str, str]]:
        """What Docker's devicemapper status showed."""
        status = self.pool.status()
        block = status.data_block_bytes
        record = self.devices.pool_record()
        rows = [
            ("Pool Name", self.pool.name),
            ("Pool Blocksize", human_size(block)),
            ("Base Device Size", human_size(record.base_size)),
            ("Backing Filesystem", record.filesystem or self.settings.filesystem),
            ("Udev Sync Supported", str(os.environ.get("DM_DISABLE_UDEV") != "1").lower()),
        ]
        if self.settings.directlvm_device:
            group_size, group_free = lvm.volume_group_space()
            rows += [
                ("Direct LVM Device", self.settings.directlvm_device),
                ("Volume Group", lvm.VOLUME_GROUP),
                ("Logical Volume", f"{lvm.VOLUME_GROUP}/{lvm.THIN_POOL_LV}"),
                ("Volume Group Size", human_size(group_size)),
                ("Volume Group Free", human_size(group_free)),
                ("Thin Pool Autoextend Threshold", f"{self.settings.autoextend_threshold}%"),
                ("Thin Pool Autoextend Percent", f"{self.settings.autoextend_percent}%"),
            ]
        elif not self.settings.thinpooldev:
            rows += [
                ("Data file", os.path.join(self.loop_dir, "data")),
                ("Metadata file", os.path.join(self.loop_dir, "metadata")),
                ("Data loop file filesystem", filesystem_type(self.loop_dir)),
            ]
        metadata_block = 4096
        rows += [
            ("Data Space Used", human_size(status.data_used * block)),
            ("Data Space Total", human_size(status.data_total * block)),
            ("Data Space Available", human_size((status.data_total - status.data_used) * block)),
            ("Metadata Space Used", human_size(status.metadata_used * metadata_block)),
            ("Metadata Space Total", human_size(status.metadata_total * metadata_block)),
            (
                "Metadata Space Available",
                human_size((status.metadata_total - status.metadata_used) * metadata_block),
            ),
            (
                "Thin Pool Minimum Free Space",
                human_size(status.data_total * block * self.settings.min_free_percent // 100),
            ),
            ("Deferred Removal Enabled", str(self.settings.deferred_removal).lower()),
            ("Deferred Deletion Enabled", str(self.settings.deferred_deletion).lower()),
            ("Deferred Deleted Device Count", str(len(self.devices.deferred()))),
            ("Number of Devices", str(len(self.devices.layers()))),
        ]
        if not self.settings.thinpooldev and not self.settings.directlvm_device:
            rows.append(
                (
                    "Warning",
                    "loop-lvm (sparse files on loop devices) is for development; "
                    "use dm.directlvm_device or dm.thinpooldev in production",
                )
            )
        return rows

    def cleanup(self) -> None:
        """Unmount views of dead processes; deactivate this store's devices nothing has mounted."""
        views = os.path.join(self.run_home, "views")
        with self._locked():
            if os.path.isdir(views):
                for name in os.listdir(views):
                    pid = name.split("-", 1)[0]
                    if pid.isdigit() and os.path.exists(f"/proc/{pid}"):
                        continue
                    unmount(os.path.join(views, name), lazy=True)
                    with contextlib.suppress(OSError):
                        os.rmdir(os.path.join(views, name))
            points = set(mount_points())
            for name in active_devices():
                if not name.startswith(self.prefix + "-") or name == self.pool.name:
                    continue
                layer_id = name[len(self.prefix) + 1 :]
                if os.path.join(self.mount_dir, layer_id) in points:
                    continue
                self._deactivate(name)
