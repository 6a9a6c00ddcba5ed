"""A kernel dm-thin pool and its thin devices, driven through dmsetup."""

from __future__ import annotations

import contextlib
import glob
import os
import shlex
import sys
from dataclasses import dataclass

from bb.drivers.devicemapper.options import LOG_INFO
from bb.errors import DriverError, ToolFailed
from bb.system.tools import run_tool

# Pool low-water mark in blocks: the kernel reports when free space falls below it.
LOW_WATER_BLOCKS = 32768


@dataclass(frozen=True)
class PoolStatus:
    """What `dmsetup status` says of a thin pool."""

    transaction_id: int
    metadata_used: int
    metadata_total: int
    data_used: int
    data_total: int
    block_sectors: int
    mode: str
    needs_check: bool

    @property
    def data_block_bytes(self) -> int:
        """Bytes per data block."""
        return self.block_sectors * 512


def _parse_status(name: str, line: str) -> PoolStatus:
    fields = line.split()
    if len(fields) < 3 or fields[2] != "thin-pool":
        raise DriverError(f'device "{name}" is not a thin pool (dmsetup status: {line.strip()})')
    if len(fields) < 8 or fields[3] == "Fail":
        raise DriverError(
            f'thin pool "{name}" has failed (dmsetup status: {line.strip()}); '
            "check it with thin_check"
        )
    metadata_used, metadata_total = (int(n) for n in fields[4].split("/"))
    data_used, data_total = (int(n) for n in fields[5].split("/"))
    length = int(fields[1])
    return PoolStatus(
        transaction_id=int(fields[3]),
        metadata_used=metadata_used,
        metadata_total=metadata_total,
        data_used=data_used,
        data_total=data_total,
        block_sectors=length // data_total if data_total else 0,
        mode=fields[7],
        needs_check="needs_check" in fields[8:],
    )


# dm.libdm_log_level: how much of what dmsetup and lvm say bb shows on stderr
_log_level = 0
LOG_WARN = 4


def set_log_level(level: int) -> None:
    """Show dmsetup's and lvm's output from now on as dm.libdm_log_level says."""
    global _log_level
    _log_level = level


def _log(argv: list[str], stdout: str, stderr: str) -> None:
    if _log_level >= LOG_INFO:
        lines = [f"$ {shlex.join(argv)}", *stdout.splitlines(), *stderr.splitlines()]
    elif _log_level >= LOG_WARN:
        lines = stderr.splitlines()
    else:
        return
    for line in lines:
        print(f"devicemapper: {line.strip()}", file=sys.stderr)


def dm_tool(tool: str, *args: str) -> str:
    """Run a device-mapper tool (dmsetup, lvm), its output shown as dm.libdm_log_level says."""
    return run_tool(tool, *args, log=_log)


def dmsetup(*args: str) -> str:
    """Run dmsetup."""
    return dm_tool("dmsetup", *args)


def active_devices() -> set[str]:
    """Names of every active device-mapper device (read from sysfs: no process to start)."""
    names = set()
    for block in glob.glob("/sys/block/dm-*/dm/name"):
        with contextlib.suppress(OSError), open(block, encoding="utf-8") as name:
            names.add(name.read().strip())
    return names


def device_is_active(name: str) -> bool:
    """Whether a device-mapper device of this name exists."""
    return name in active_devices()


def make_node(name: str) -> str:
    """/dev/mapper/NAME, created if no udev made it."""
    path = f"/dev/mapper/{name}"
    if not os.path.exists(path):
        dmsetup("mknodes", name)
    return path


class ThinPool:
    """One thin pool, by device-mapper name."""

    def __init__(self, name: str):
        self.name = name
        self.path = f"/dev/mapper/{name}"

    def status(self) -> PoolStatus:
        """The pool's current status."""
        return _parse_status(self.name, dmsetup("status", self.name))

    def message(self, text: str) -> None:
        """Send a message to the pool target."""
        dmsetup("message", self.name, "0", text)

    def create_device(self, device_id: int, origin: tuple[int, str] | None) -> bool:
        """New thin device `device_id` (a snapshot of (origin id, origin name) if given).

        Returns False when the kernel says the id is taken. An active origin
        is suspended around the snapshot, so the copy is consistent.
        """
        origin_active = origin is not None and device_is_active(origin[1])
        if origin_active:
            dmsetup("suspend", origin[1])  # type: ignore[index]
        try:
            self.message(
                f"create_snap {device_id} {origin[0]}" if origin else f"create_thin {device_id}"
            )
        except ToolFailed as failure:
            if "File exists" in failure.stderr:
                return False
            raise
        finally:
            if origin_active:
                dmsetup("resume", origin[1])  # type: ignore[index]
        return True

    def delete_device(self, device_id: int) -> None:
        """Delete a thin device (its blocks go back to the pool); a missing one is not an error."""
        try:
            self.message(f"delete {device_id}")
        except ToolFailed as failure:
            if "No data available" not in failure.stderr and "No such" not in failure.stderr:
                raise

    def set_transaction_id(self, old: int, new: int) -> None:
        """Commit a transaction: the pool's metadata records `new`."""
        self.message(f"set_transaction_id {old} {new}")

    def activate(self, name: str, device_id: int, size: int) -> str:
        """Make thin device `device_id` available as /dev/mapper/NAME."""
        if not device_is_active(name):
            make_node(self.name)
            dmsetup("create", name, "--table", f"0 {size // 512} thin {self.path} {device_id}")
        return make_node(name)

    @staticmethod
    def deactivate(name: str, deferred: bool = False) -> None:
        """Remove /dev/mapper/NAME (deferred: when its last user closes it)."""
        if device_is_active(name):
            dmsetup("remove", *(["--deferred"] if deferred else []), name)


def _loop_device_of(path: str) -> str | None:
    """The loop device already attached to `path`, if any."""
    output = run_tool("losetup", "-j", path).strip()
    return output.split(":", 1)[0] if output else None


def _attach(path: str, size: int) -> str:
    if not os.path.exists(path):
        with open(path, "wb") as backing:
            backing.truncate(size)
    return _loop_device_of(path) or run_tool("losetup", "-f", "--show", path).strip()


def open_loop_pool(
    name: str,
    data_file: str,
    metadata_file: str,
    data_size: int,
    metadata_size: int,
    block_sectors: int,
) -> ThinPool:
    """The loop-lvm pool over two sparse files, created or re-attached (e.g. after a reboot)."""
    pool = ThinPool(name)
    if device_is_active(name):
        return pool
    metadata_device = _attach(metadata_file, metadata_size)
    data_device = _attach(data_file, data_size)
    sectors = os.path.getsize(data_file) // 512
    blocks = sectors // block_sectors
    low_water = min(LOW_WATER_BLOCKS, max(1, blocks // 10))
    dmsetup(
        "create",
        name,
        "--table",
        f"0 {sectors} thin-pool {metadata_device} {data_device} {block_sectors} {low_water} "
        # a full pool fails writes at once instead of queueing them (for 60 s, or for ever)
        "2 skip_block_zeroing error_if_no_space",
    )
    make_node(name)
    return pool


def open_existing_pool(name: str) -> ThinPool:
    """A pool someone else set up (dm.thinpooldev), which must be active."""
    if not device_is_active(name):
        raise DriverError(f'dm.thinpooldev "{name}": no such device-mapper device')
    pool = ThinPool(name)
    pool.status()
    return pool
