"""The `dm.*` options of the devicemapper driver, parsed and checked."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from bb.errors import InvalidArgument

GiB = 1 << 30
FILESYSTEMS = ("ext4", "xfs")
OPTION_NAMES = frozenset(
    {
        "dm.thinpooldev",
        "dm.loopdatasize",
        "dm.loopmetadatasize",
        "dm.fs",
        "dm.basesize",
        "dm.mkfsarg",
        "dm.mountopt",
        "dm.blocksize",
        "dm.min_free_space",
        "dm.use_deferred_removal",
        "dm.use_deferred_deletion",
        "dm.directlvm_device",
        "dm.directlvm_device_force",
        "dm.thinp_percent",
        "dm.thinp_metapercent",
        "dm.thinp_autoextend_threshold",
        "dm.thinp_autoextend_percent",
        "dm.xfs_nospace_max_retries",
        "dm.libdm_log_level",
    }
)
# libdm's levels, as moby's dm.libdm_log_level: 0 shows nothing, 7 (debug) everything
LOG_LEVELS = range(0, 8)
LOG_INFO = 6

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_size(value: str, option: str) -> int:
    """`100G`, `64K`, `512MiB`, `1048576` -> bytes (binary units, as Docker read them)."""
    match = _SIZE.fullmatch(value.strip())
    if not match:
        raise InvalidArgument(
            f'storage option {option}="{value}": expected a size such as 10G or 64K'
        )
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _parse_bool(value: str, option: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise InvalidArgument(f'storage option {option}="{value}": expected true or false')


def _parse_int(value: str, option: str, allowed: range) -> int:
    text = value.strip().removesuffix("%")
    if not text.isdigit() or int(text) not in allowed:
        raise InvalidArgument(
            f'storage option {option}="{value}": expected a number from '
            f"{allowed.start} to {allowed.stop - 1}"
        )
    return int(text)


def _parse_percent(value: str, option: str) -> int:
    match = re.fullmatch(r"(\d{1,2})%?", value.strip())
    if not match:
        raise InvalidArgument(
            f'storage option {option}="{value}": expected a percentage from 0% to 99%'
        )
    return int(match.group(1))


@dataclass
class DeviceMapperOptions:
    """How the driver sets up and uses its thin pool."""

    thinpooldev: str | None = None
    loop_data_size: int = 100 * GiB
    loop_metadata_size: int = 2 * GiB
    filesystem: str = "ext4"
    base_size: int = 10 * GiB
    mkfs_args: list[str] = field(default_factory=list)
    mount_options: str = ""
    block_size: int = 64 << 10
    min_free_percent: int = 10
    deferred_removal: bool = False
    deferred_deletion: bool = False
    #: direct-lvm: the block device bb sets a volume group and thin-pool LV up on
    directlvm_device: str | None = None
    directlvm_force: bool = False
    #: how much of the volume group the pool's data and metadata LVs take (moby's defaults)
    thinp_percent: int = 95
    thinp_metapercent: int = 1
    autoextend_threshold: int = 80
    autoextend_percent: int = 20
    #: xfs's ENOSPC metadata retries (None: the kernel's default, retry forever)
    xfs_nospace_max_retries: int | None = None
    log_level: int = 0

    @property
    def block_sectors(self) -> int:
        """The pool's block size in 512-byte sectors."""
        return self.block_size // 512


def parse_options(options: dict[str, str]) -> DeviceMapperOptions:
    """Check and convert the `dm.*` options (the driver base class has refused unknown names)."""
    parsed = DeviceMapperOptions()
    for name, value in options.items():
        if name == "dm.thinpooldev":
            parsed.thinpooldev = value.removeprefix("/dev/mapper/") or None
        elif name == "dm.loopdatasize":
            parsed.loop_data_size = parse_size(value, name)
        elif name == "dm.loopmetadatasize":
            parsed.loop_metadata_size = parse_size(value, name)
        elif name == "dm.fs":
            if value not in FILESYSTEMS:
                raise InvalidArgument(f'storage option dm.fs="{value}": must be ext4 or xfs')
            parsed.filesystem = value
        elif name == "dm.basesize":
            parsed.base_size = parse_size(value, name)
        elif name == "dm.mkfsarg":
            parsed.mkfs_args = shlex.split(value)
        elif name == "dm.mountopt":
            parsed.mount_options = value
        elif name == "dm.blocksize":
            parsed.block_size = parse_size(value, name)
        elif name == "dm.min_free_space":
            parsed.min_free_percent = _parse_percent(value, name)
        elif name == "dm.use_deferred_removal":
            parsed.deferred_removal = _parse_bool(value, name)
        elif name == "dm.use_deferred_deletion":
            parsed.deferred_deletion = _parse_bool(value, name)
        elif name == "dm.directlvm_device":
            parsed.directlvm_device = value.strip() or None
        elif name == "dm.directlvm_device_force":
            parsed.directlvm_force = _parse_bool(value, name)
        elif name == "dm.thinp_percent":
            parsed.thinp_percent = _parse_int(value, name, range(1, 100))
        elif name == "dm.thinp_metapercent":
            parsed.thinp_metapercent = _parse_int(value, name, range(1, 100))
        elif name == "dm.thinp_autoextend_threshold":
            parsed.autoextend_threshold = _parse_int(value, name, range(1, 101))
        elif name == "dm.thinp_autoextend_percent":
            parsed.autoextend_percent = _parse_int(value, name, range(1, 101))
        elif name == "dm.xfs_nospace_max_retries":
            parsed.xfs_nospace_max_retries = _parse_int(value, name, range(0, 1 << 31))
        elif name == "dm.libdm_log_level":
            parsed.log_level = _parse_int(value, name, LOG_LEVELS)
    block = parsed.block_size
    if block % (64 << 10) or not (64 << 10) <= block <= GiB:
        raise InvalidArgument(
            "storage option dm.blocksize: must be a multiple of 64K between 64K and 1G"
        )
    if parsed.directlvm_device is not None:
        if parsed.thinpooldev:
            raise InvalidArgument(
                "storage options dm.directlvm_device and dm.thinpooldev: give one, not both "
                "(direct-lvm sets its own thin pool up)"
            )
        if not parsed.directlvm_device.startswith("/dev/"):
            raise InvalidArgument(
                f'storage option dm.directlvm_device="{parsed.directlvm_device}": '
                "expected a block device under /dev"
            )
        if parsed.thinp_percent + parsed.thinp_metapercent > 100:
            raise InvalidArgument(
                "storage options dm.thinp_percent and dm.thinp_metapercent: "
                "together they must not exceed 100"
            )
    if parsed.base_size < 64 << 20:
        raise InvalidArgument("storage option dm.basesize: must be at least 64M")
    if parsed.base_size % 512:
        raise InvalidArgument("storage option dm.basesize: must be a multiple of 512 bytes")
    return parsed
