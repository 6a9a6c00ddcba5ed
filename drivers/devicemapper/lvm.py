"""direct-lvm: the thin pool as an LVM logical volume bb sets up on a block device, as moby did.

`dm.directlvm_device=/dev/X` makes X a physical volume of the volume group `bb`, whose
thin-pool LV `bb/thinpool` (device-mapper name `bb-thinpool`) takes dm.thinp_percent of it
for data and dm.thinp_metapercent for metadata. An LVM profile carries the autoextend
settings; since bb has no daemon (and dmeventd may not run), bb itself extends the pool
before it creates a device once use crosses the threshold. What was set up is recorded in
`<driver home>/setup-config.json`: later runs reuse it and refuse another device.

Works without udev (and without dmeventd): every lvm command is told so with --config.
"""

from __future__ import annotations

import os
import stat
from dataclasses import asdict, dataclass

from bb.drivers.devicemapper.options import DeviceMapperOptions
from bb.drivers.devicemapper.pool import ThinPool, device_is_active, dm_tool, open_existing_pool
from bb.errors import DriverError, InvalidArgument, ToolFailed
from bb.system.atomic import read_json, write_json_atomic

VOLUME_GROUP = "bb"
THIN_POOL_LV = "thinpool"
POOL_NAME = f"{VOLUME_GROUP}-{THIN_POOL_LV}"  # the device-mapper name LVM gives bb/thinpool
PROFILE = "bb-thinpool"
SETUP_FILE = "setup-config.json"
# moby's chunk size for its thin-pool LV
CHUNK_SIZE = "512K"


@dataclass(frozen=True)
class DirectLVMSetup:
    """What bb set up on the device (the record a later run compares its options with)."""

    device: str
    thinp_percent: int
    thinp_metapercent: int
    autoextend_threshold: int
    autoextend_percent: int


def lvm_config() -> str:
    """lvm's --config for this host: without udev LVM must make the device nodes itself, and
    without dmeventd it must not try to monitor the pool."""
    parts = []
    if not os.path.exists("/run/udev/control"):
        parts.append(
            "activation{udev_sync=0 udev_rules=0 verify_udev_operations=1} "
            "devices{obtain_device_list_from_udev=0}"
        )
    if not os.path.exists("/run/dmeventd-server"):
        parts.append("activation{monitoring=0}")
    return " ".join(parts)


def lvm(command: str, *args: str) -> str:
    """Run an lvm command (pvcreate, lvs, ...) configured for this host."""
    config = lvm_config()
    return dm_tool("lvm", command, *(["--config", config] if config else []), *args)


def _profile_path() -> str:
    return os.path.join(
        os.environ.get("LVM_SYSTEM_DIR", "/etc/lvm"), "profile", PROFILE + ".profile"
    )


def _write_profile(setup: DirectLVMSetup) -> bool:
    """Write the LVM profile with the autoextend settings; return whether it changed."""
    text = (
        "activation {\n"
        f"\tthin_pool_autoextend_threshold={setup.autoextend_threshold}\n"
        f"\tthin_pool_autoextend_percent={setup.autoextend_percent}\n"
        "}\n"
    )
    path = _profile_path()
    try:
        with open(path, encoding="utf-8") as current:
            if current.read() == text:
                return False
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as profile:
        profile.write(text)
        profile.flush()
        os.fsync(profile.fileno())
    os.replace(temporary, path)
    return True


def _blkid(device: str) -> dict[str, str]:
    """What blkid finds on the device (TYPE of a filesystem or PV, PTTYPE of a partition table)."""
    try:
        output = dm_tool("blkid", "-p", "-o", "export", device)
    except ToolFailed as failure:
        if failure.status == 2:  # nothing found
            return {}
        raise
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


def _is_in_use(device: str) -> bool:
    """Whether something holds the device: a mount, or a device-mapper or md device on it."""
    rdev = os.stat(device).st_rdev
    number = f"{os.major(rdev)}:{os.minor(rdev)}"
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as table:
        if any(line.split()[2] == number for line in table):
            return True
    holders = f"/sys/dev/block/{number}/holders"
    return os.path.isdir(holders) and bool(os.listdir(holders))


def verify_device(device: str, force: bool) -> None:
    """Refuse a device bb must not take: not a block device, in use, in a volume group, or (unless
    forced) holding a filesystem, a physical volume or a partition table."""
    option = f'storage option dm.directlvm_device="{device}"'
    try:
        mode = os.stat(device).st_mode
    except FileNotFoundError:
        raise InvalidArgument(f"{option}: no such device") from None
    if not stat.S_ISBLK(mode):
        raise InvalidArgument(f"{option}: not a block device")
    found = _blkid(device)
    if found.get("TYPE") == "LVM2_member":
        group = lvm("pvs", "--noheadings", "-o", "vg_name", device).strip()
        if group:
            raise InvalidArgument(
                f'{option}: the device is already part of volume group "{group}": remove it '
                "from that volume group (vgreduce, or vgremove) or give another device"
            )
    if _is_in_use(device):
        raise InvalidArgument(
            f"{option}: the device is in use (mounted, or held by another device)"
        )
    what = found.get("TYPE") or (found.get("PTTYPE") and f"{found['PTTYPE']} partition table")
    if what and not force:
        holds = "an LVM physical volume" if what == "LVM2_member" else f"a {what} signature"
        raise InvalidArgument(
            f"{option}: the device holds {holds}; dm.directlvm_device_force=true wipes it"
        )


def _create(setup: DirectLVMSetup, force: bool) -> None:
    """pvcreate, vgcreate, the data and metadata LVs, lvconvert into a thin pool, the profile."""
    device = setup.device
    lvm("pvcreate", "-y", *(["-ff"] if force else []), device)
    lvm("vgcreate", VOLUME_GROUP, device)
    for name, percent in (
        (THIN_POOL_LV, setup.thinp_percent),
        (THIN_POOL_LV + "meta", setup.thinp_metapercent),
    ):
        lvm(
            "lvcreate",
            "-y",
            "--wipesignatures",
            "y",
            "-n",
            name,
            "-l",
            f"{percent}%VG",
            VOLUME_GROUP,
        )
    lv = f"{VOLUME_GROUP}/{THIN_POOL_LV}"
    lvm(
        "lvconvert", "-y", "--zero", "n", "-c", CHUNK_SIZE,
        "--thinpool", lv, "--poolmetadata", f"{lv}meta",
    )  # fmt: skip
    _write_profile(setup)
    # the profile for dmeventd where it runs; a full pool fails writes instead of queueing them
    lvm("lvchange", "--metadataprofile", PROFILE, "--errorwhenfull", "y", lv)


def _activate(setup: DirectLVMSetup) -> None:
    """Activate the pool LV (after a reboot nothing has), checking it is still on the device."""
    try:
        groups = lvm("pvs", "--noheadings", "-o", "vg_name", setup.device).split()
    except ToolFailed as failure:
        raise DriverError(
            f"direct-lvm: {setup.device} is not the physical volume bb set up for this store "
            f"({failure.stderr.strip()}): was the disk replaced or renamed?"
        ) from None
    if groups != [VOLUME_GROUP]:
        raise DriverError(
            f'direct-lvm: {setup.device} belongs to volume group "{" ".join(groups)}", not '
            f'"{VOLUME_GROUP}" which bb set up: was the disk replaced or renamed?'
        )
    lvm("lvchange", "-ay", f"{VOLUME_GROUP}/{THIN_POOL_LV}")


def open_direct_lvm_pool(home: str, settings: DeviceMapperOptions) -> ThinPool:
    """The store's direct-lvm pool: set up on first use, then reused; another device is refused."""
    assert settings.directlvm_device is not None
    setup = DirectLVMSetup(
        device=settings.directlvm_device,
        thinp_percent=settings.thinp_percent,
        thinp_metapercent=settings.thinp_metapercent,
        autoextend_threshold=settings.autoextend_threshold,
        autoextend_percent=settings.autoextend_percent,
    )
    record_path = os.path.join(home, SETUP_FILE)
    if not os.path.exists(record_path):
        verify_device(setup.device, settings.directlvm_force)
        _create(setup, settings.directlvm_force)
        write_json_atomic(record_path, asdict(setup))
        return open_existing_pool(POOL_NAME)
    previous = DirectLVMSetup(**read_json(record_path))
    for option, was, now in (
        ("dm.directlvm_device", previous.device, setup.device),
        ("dm.thinp_percent", previous.thinp_percent, setup.thinp_percent),
        ("dm.thinp_metapercent", previous.thinp_metapercent, setup.thinp_metapercent),
    ):
        if was != now:
            raise InvalidArgument(
                f'storage option {option}="{now}": this store\'s thin pool was set up with '
                f'{option}="{was}" (recorded in {record_path}); changing it is not supported: '
                f"set it back, or use another graph root"
            )
    if previous != setup:  # only the autoextend settings changed: they apply from now on
        write_json_atomic(record_path, asdict(setup))
    if _write_profile(setup):
        lvm("lvchange", "--metadataprofile", PROFILE, f"{VOLUME_GROUP}/{THIN_POOL_LV}")
    if not device_is_active(POOL_NAME):
        _activate(setup)
    return open_existing_pool(POOL_NAME)


def autoextend(pool: ThinPool, threshold: int) -> bool:
    """Extend the pool LV by the profile's percentage if its data or metadata use is at or above
    `threshold` percent and the volume group has room; return whether it grew.

    dmeventd does this where it monitors the pool; bb does it itself before it adds a device."""
    if threshold >= 100:  # LVM's "never"
        return False
    status = pool.status()
    if (
        status.data_used * 100 < threshold * status.data_total
        and status.metadata_used * 100 < threshold * status.metadata_total
    ):
        return False
    try:
        lvm("lvextend", "--use-policies", f"{VOLUME_GROUP}/{THIN_POOL_LV}")
    except ToolFailed as failure:
        if "Insufficient free space" in failure.stderr:
            return False  # the volume group is full: dm.min_free_space decides
        raise
    return True


def volume_group_space() -> tuple[int, int]:
    """The volume group's size and free space, in bytes."""
    size, free = lvm(
        "vgs", "--noheadings", "--units", "b", "--nosuffix", "-o", "vg_size,vg_free", VOLUME_GROUP
    ).split()
    return int(size), int(free)
