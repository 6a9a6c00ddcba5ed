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
    }
)

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
    block = parsed.block_size
    if block % (64 << 10) or not (64 << 10) <= block <= GiB:
        raise InvalidArgument(
            "storage option dm.blocksize: must be a multiple of 64K between 64K and 1G"
        )
    if parsed.base_size < 64 << 20:
        raise InvalidArgument("storage option dm.basesize: must be at least 64M")
    if parsed.base_size % 512:
        raise InvalidArgument("storage option dm.basesize: must be a multiple of 512 bytes")
    return parsed
