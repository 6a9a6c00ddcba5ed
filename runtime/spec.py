"""Generate the OCI runtime spec (config.json) runc runs a build step with."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass, field, replace
from typing import Any

from bb.errors import InvalidArgument
from bb.runtime.seccomp import DEFAULT_PROFILE

# containers-common's default set (containers.conf), which buildah gives a RUN step.
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
)
# Every capability, in the order of its bit in /proc/PID/status (linux/capability.h).
CAPABILITY_BITS = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)
KNOWN_CAPABILITIES = frozenset(CAPABILITY_BITS)

# buildah's masked and read-only paths (/proc/asound masked, as runc's own default has it).
MASKED_PATHS = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/fs/selinux",
    "/sys/dev",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

# What every step sees besides its root. /sys is a fresh sysfs, not a bind of the host's: read-only
# applies to a bind's top mount only, and the host's cgroup file systems below it stayed writable.
# /sys/fs/cgroup is the step's own cgroup (its own cgroup namespace), read-only.
BASE_MOUNTS: list[dict[str, Any]] = [
    {
        "destination": "/proc",
        "type": "proc",
        "source": "proc",
        "options": ["nosuid", "noexec", "nodev"],
    },
    {
        "destination": "/dev",
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
        "destination": "/dev/pts",
        "type": "devpts",
        "source": "devpts",
        "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    {
        "destination": "/dev/shm",
        "type": "tmpfs",
        "source": "shm",
        "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    },
    {
        "destination": "/dev/mqueue",
        "type": "mqueue",
        "source": "mqueue",
        "options": ["nosuid", "noexec", "nodev"],
    },
    {
        "destination": "/sys",
        "type": "sysfs",
        "source": "sysfs",
        "options": ["nosuid", "noexec", "nodev", "ro"],
    },
    {
        "destination": "/sys/fs/cgroup",
        "type": "cgroup",
        "source": "cgroup",
        "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"],
    },
]

# The devices a step may open (c MAJOR:MINOR, None: any minor): null, zero, full, random, urandom,
# tty, console, ptmx and the pseudo-terminals; the rules deny every other, whatever a step mknods.
STANDARD_DEVICES = ((1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2), (136, None))
DEVICE_RULES: list[dict[str, Any]] = [{"allow": False, "access": "rwm"}] + [
    {
        "allow": True,
        "type": "c",
        "major": major,
        "access": "rwm",
        **({} if minor is None else {"minor": minor}),
    }
    for major, minor in STANDARD_DEVICES
]

NETWORK_MODES = ("host", "none")


@dataclass(frozen=True)
class Confinement:
    """How a step is confined besides its namespaces: capabilities, seccomp, privileges, network."""

    #: normalized CAP_ names, or "ALL"
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    #: the seccomp profile's path; None runs the step without a filter (seccomp=unconfined)
    seccomp_profile: str | None = DEFAULT_PROFILE
    no_new_privileges: bool = False
    #: host: the host's network; none: a network namespace of its own with only loopback
    network: str = "host"


def normalize_capability(name: str, flag: str = "--cap-add") -> str:
    """`sys_admin`, `SYS_ADMIN` or `CAP_SYS_ADMIN` -> `CAP_SYS_ADMIN`; `all` -> `ALL`; unknown
    names are refused."""
    upper = name.strip().upper()
    if upper == "ALL":
        return upper
    capability = upper if upper.startswith("CAP_") else "CAP_" + upper
    if capability not in KNOWN_CAPABILITIES:
        raise InvalidArgument(f'{flag} "{name}": unknown capability')
    return capability


def _security_option(confinement: Confinement, option: str) -> Confinement:
    """`confinement` with one `--security-opt` applied (buildah's spellings)."""
    key, equals, value = option.partition("=")
    if key == "seccomp" and value:
        return replace(confinement, seccomp_profile=None if value == "unconfined" else value)
    if key == "no-new-privileges" and (not equals or value in ("true", "false")):
        return replace(confinement, no_new_privileges=value != "false")
    raise InvalidArgument(
        f'--security-opt "{option}": expected seccomp=unconfined, seccomp=PATH or no-new-privileges'
    )


def parse_confinement(
    cap_add: list[str], cap_drop: list[str], security_opt: list[str], network: str | None
) -> Confinement:
    """The confinement `--cap-add`, `--cap-drop`, `--security-opt` and `--network` ask for."""
    if network is not None and network not in NETWORK_MODES:
        raise InvalidArgument(f'--network "{network}": expected host or none')
    confinement = Confinement(
        cap_add=tuple(normalize_capability(name) for name in cap_add),
        cap_drop=tuple(normalize_capability(name, "--cap-drop") for name in cap_drop),
        network=network or "host",
    )
    for option in security_opt:
        confinement = _security_option(confinement, option)
    return confinement


def held_capabilities() -> frozenset[str]:
    """The capabilities bb's own bounding set holds: a step can be given no others."""
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("CapBnd:"))
    bits = int(line.split()[1], 16)
    return frozenset(name for bit, name in enumerate(CAPABILITY_BITS) if bits & (1 << bit))


def capability_set(confinement: Confinement) -> list[str]:
    """The step's capabilities, as in buildah: the defaults plus those added, minus those dropped.

    `--cap-add ALL` adds every capability bb holds; `--cap-drop ALL` leaves none, whatever is added.
    """
    if "ALL" in confinement.cap_drop:
        return []
    added = set(confinement.cap_add) - {"ALL"}
    if added or "ALL" in confinement.cap_add:
        held = held_capabilities()
        # runc would fail with only "unable to apply caps: operation not permitted"
        missing = sorted(added - held)
        if missing:
            raise InvalidArgument(
                f'--cap-add "{missing[0]}": bb itself does not hold it, so no step can'
            )
        if "ALL" in confinement.cap_add:
            added = set(held)
    return sorted((set(DEFAULT_CAPABILITIES) | added) - set(confinement.cap_drop))


def seccomp_filter(confinement: Confinement, capabilities: list[str]) -> dict[str, Any] | None:
    """linux.seccomp for a step with these (bounding) capabilities; None when unconfined."""
    if confinement.seccomp_profile is None:
        return None
    from bb.runtime.seccomp import load_profile

    return load_profile(confinement.seccomp_profile, capabilities)


@dataclass
class ProcessSpec:
    """What to run, as whom, where and with what."""

    args: list[str]
    env: list[str]
    cwd: str
    uid: int = 0
    gid: int = 0
    additional_gids: tuple[int, ...] = ()
    terminal: bool = False
    capabilities: list[str] = field(default_factory=lambda: list(DEFAULT_CAPABILITIES))
    no_new_privileges: bool = False


def _namespaces(network: str) -> list[dict[str, str]]:
    kinds = ["pid", "ipc", "uts", "mount"]
    # a kernel without cgroup namespaces (before 4.6) still gets the read-only cgroup mount
    if os.path.exists("/proc/self/ns/cgroup"):
        kinds.append("cgroup")
    if network == "none":
        # a new network namespace: runc brings its loopback up, and nothing else is there
        kinds.append("network")
    return [{"type": kind} for kind in kinds]


def runtime_spec(
    rootfs: str,
    process: ProcessSpec,
    hostname: str,
    mounts: list[dict[str, Any]],
    network: str = "host",
    seccomp: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One step's config.json: private pid/ipc/uts/mount/cgroup namespaces, `network`'s network."""
    # As many open files as bb itself may have (Docker asks for 1048576, which may exceed the
    # host's hard limit).
    open_files_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    # A non-root user keeps only the bounding set, as under buildah and Docker.
    granted = process.capabilities if process.uid == 0 else []
    linux: dict[str, Any] = {
        "namespaces": _namespaces(network),
        "maskedPaths": MASKED_PATHS,
        "readonlyPaths": READONLY_PATHS,
        "resources": {"devices": DEVICE_RULES},
    }
    if seccomp is not None:
        linux["seccomp"] = seccomp
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": process.terminal,
            "user": {
                "uid": process.uid,
                "gid": process.gid,
                "additionalGids": list(process.additional_gids),
            },
            "args": process.args,
            "env": process.env,
            "cwd": process.cwd,
            "capabilities": {
                "bounding": process.capabilities,
                "effective": granted,
                "permitted": granted,
                "inheritable": [],
                "ambient": [],
            },
            "rlimits": [
                {"type": "RLIMIT_NOFILE", "hard": open_files_limit, "soft": open_files_limit}
            ],
            "noNewPrivileges": process.no_new_privileges,
        },
        "root": {"path": rootfs, "readonly": False},
        "hostname": hostname,
        "mounts": mounts,
        "linux": linux,
    }
