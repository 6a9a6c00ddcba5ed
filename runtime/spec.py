"""Generate the OCI runtime spec (config.json) runc runs a build step with."""

from __future__ import annotations

import resource
from dataclasses import dataclass, field
from typing import Any

from bb.errors import InvalidArgument

# Docker's default set, which Dockerfiles are written against.
DEFAULT_CAPABILITIES = (
    "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
    "CAP_SETUID", "CAP_SYS_CHROOT",
)
KNOWN_CAPABILITIES = frozenset({
    "CAP_AUDIT_CONTROL", "CAP_AUDIT_READ", "CAP_AUDIT_WRITE", "CAP_BLOCK_SUSPEND", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_KILL", "CAP_LEASE", "CAP_LINUX_IMMUTABLE",
    "CAP_MAC_ADMIN", "CAP_MAC_OVERRIDE", "CAP_MKNOD", "CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_RAW", "CAP_PERFMON", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
    "CAP_SETUID", "CAP_SYSLOG", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_CHROOT", "CAP_SYS_MODULE",
    "CAP_SYS_NICE", "CAP_SYS_PACCT", "CAP_SYS_PTRACE", "CAP_SYS_RAWIO", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_WAKE_ALARM",
})

MASKED_PATHS = [
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

# What every step sees besides its root; /sys is bound from the host because
# steps share the host's network namespace, where a new sysfs may not be mounted.
BASE_MOUNTS: list[dict[str, Any]] = [
    {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "bind", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]},
]


def normalize_capability(name: str) -> str:
    """`sys_admin`, `SYS_ADMIN` or `CAP_SYS_ADMIN` -> `CAP_SYS_ADMIN`; unknown names are refused."""
    upper = name.strip().upper()
    capability = upper if upper.startswith("CAP_") else "CAP_" + upper
    if capability not in KNOWN_CAPABILITIES:
        raise InvalidArgument(f'--cap-add "{name}": unknown capability')
    return capability


def capability_set(added: list[str]) -> list[str]:
    """The default capabilities plus those added (`ALL` adds every one)."""
    if any(name.strip().upper() == "ALL" for name in added):
        return sorted(KNOWN_CAPABILITIES)
    return sorted(set(DEFAULT_CAPABILITIES) | {normalize_capability(name) for name in added})


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


def runtime_spec(rootfs: str, process: ProcessSpec, hostname: str, mounts: list[dict[str, Any]]) -> dict[str, Any]:
    """The config.json for one step: host network, private pid/ipc/uts/mount namespaces."""
    # As many open files as bb itself may have (Docker asks for 1048576, which may exceed the host's hard limit).
    open_files_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    # A non-root user keeps only the bounding set, as under Docker.
    granted = process.capabilities if process.uid == 0 else []
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": process.terminal,
            "user": {"uid": process.uid, "gid": process.gid, "additionalGids": list(process.additional_gids)},
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
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": open_files_limit, "soft": open_files_limit}],
            "noNewPrivileges": False,
        },
        "root": {"path": rootfs, "readonly": False},
        "hostname": hostname,
        "mounts": mounts,
        "linux": {
            "namespaces": [{"type": kind} for kind in ("pid", "ipc", "uts", "mount")],
            "maskedPaths": MASKED_PATHS,
            "readonlyPaths": READONLY_PATHS,
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        },
    }
