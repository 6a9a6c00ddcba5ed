"""What several test files share: the repository's paths, the Dockerfile cases of tests/bud/,
and peer helpers.

pyproject.toml puts tests/ on sys.path (pytest's `pythonpath`), so a test imports this as `testbed`;
conftest.py files are not importable under --import-mode=importlib.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "scripts" / "examples"
BUSYBOX_EXAMPLE = EXAMPLES / "busybox.sh"
RUN_IN_VM = REPO / "scripts" / "vm" / "run-in-vm"
BUD = REPO / "tests" / "bud"
# In a case directory, the extra build arguments: one argument per line (tests/bud/README.md)
BUD_ARGUMENTS_FILE = "bud-args"
# The cases whose images must be identical on every driver (built with --timestamp on a base made
# with SOURCE_DATE_EPOCH): on overlay and vfs on the host, on devicemapper in the VM.
DRIVER_CORPUS = [
    "instructions",
    "multistage",
    "heredocs",
    "copy-owners",
    "workdir-owner",
    "workdir-as-written",
    "platform-args",
    "dockerignore-reinclude-file",
    "dockerignore-alternating",
    "copy-glob-unmatched",
    "add-dest-dotdot-after-symlink",
]
TIMESTAMP = "1700000000"


@dataclass(frozen=True)
class BudCase:
    """A Dockerfile case: tests/bud/<name>/ is the build context, its Dockerfile the one built."""

    name: str

    @property
    def context(self) -> Path:
        """The case's directory, the build context."""
        return BUD / self.name

    @property
    def arguments(self) -> list[str]:
        """The build arguments the case needs (from its bud-args file; none without one)."""
        path = self.context / BUD_ARGUMENTS_FILE
        return path.read_text().splitlines() if path.exists() else []


def bud_cases() -> list[BudCase]:
    """Every case under tests/bud/ (a directory holding a Dockerfile), by name."""
    return [BudCase(path.parent.name) for path in sorted(BUD.glob("*/Dockerfile"))]


def bud_case(name: str) -> BudCase:
    """The case tests/bud/<name>/ (which must exist)."""
    case = BudCase(name)
    assert (case.context / "Dockerfile").is_file(), f"no Dockerfile case {name} under {BUD}"
    return case


# what bb shows on stderr beside errors, as buildah does: layer transfers and retries
PROGRESS_LINE = re.compile(r"Copying (blob|config) |Writing layer|Retrying in ")


def error_lines(stderr: str) -> list[str]:
    """stderr without its progress lines (an error should leave exactly one `Error:` line)."""
    return [line for line in stderr.strip().splitlines() if not PROGRESS_LINE.match(line)]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60) -> None:
    """Poll `condition` until true; fail the test naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# Peers the transport tests and scripts/bench/compare.py start: a docker-registry and a dockerd.


def start_registry(
    base: Path, htpasswd: Path | None = None, tls: Path | None = None
) -> tuple[subprocess.Popen, str]:
    """A docker-registry on 127.0.0.1 storing under `base`/data, its access log in
    `base`/registry.log; with `tls`, HTTPS with the server pair there (server.crt, server.key),
    client certificates signed by its ca.crt required; (process, "127.0.0.1:PORT")."""
    port = free_port()
    auth = f"auth:\n  htpasswd:\n    realm: bb-test\n    path: {htpasswd}\n" if htpasswd else ""
    tls_config = (
        f"  tls:\n    certificate: {tls / 'server.crt'}\n    key: {tls / 'server.key'}\n"
        f"    clientcas:\n      - {tls / 'ca.crt'}\n"
        if tls
        else ""
    )
    config = base / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  accesslog:\n    disabled: false\n"
        f"storage:\n  filesystem:\n    rootdirectory: {base / 'data'}\n"
        f"  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{tls_config}{auth}"
    )
    process = subprocess.Popen(
        ["docker-registry", "serve", str(config)],
        stdout=open(base / "registry.log", "w"),
        stderr=subprocess.STDOUT,
    )

    def answers() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    wait_for(answers, "docker-registry")
    return process, f"127.0.0.1:{port}"


def start_dockerd(base: Path) -> tuple[subprocess.Popen, str]:
    """dockerd with its own data root, exec root and socket under `base`, no iptables and no
    bridge; (process, DOCKER_HOST). Stop it with stop_dockerd."""
    sock = base / "docker.sock"
    process = subprocess.Popen(
        [
            "dockerd",
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            "--data-root",
            str(base / "data"),
            "--exec-root",
            str(base / "exec"),
            "-H",
            f"unix://{sock}",
            "--pidfile",
            str(base / "docker.pid"),
        ],
        stdout=open(base / "dockerd.log", "w"),
        stderr=subprocess.STDOUT,
    )
    host = f"unix://{sock}"

    def answers() -> bool:
        version = subprocess.run(["docker", "-H", host, "version"], capture_output=True)
        return sock.exists() and version.returncode == 0

    wait_for(answers, "dockerd", 60)
    return process, host


def stop_dockerd(process: subprocess.Popen, base: Path) -> None:
    """Stop a dockerd start_dockerd started, and unmount what it left under its exec root."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
    subprocess.run(["umount", "-R", str(base / "exec")], capture_output=True)
    os.environ.pop("DOCKER_HOST", None)


@contextmanager
def private_buildah(base: Path) -> Iterator[list[str]]:
    """buildah's command line on a vfs store of its own under `base`; its containers and images
    go at the end."""
    command = [
        "buildah",
        "--root",
        str(base / "root"),
        "--runroot",
        str(base / "run"),
        "--storage-driver",
        "vfs",
    ]
    try:
        yield command
    finally:
        subprocess.run([*command, "rm", "--all"], capture_output=True, check=False)
        subprocess.run([*command, "rmi", "--all", "--force"], capture_output=True, check=False)


# lvm in the VM, which has neither udev nor dmeventd
LVM_CONFIG = (
    "activation{udev_sync=0 udev_rules=0 verify_udev_operations=1 monitoring=0} "
    "devices{obtain_device_list_from_udev=0}"
)


def lvm(*args: str, check: bool = True) -> str:
    result = subprocess.run(
        ["lvm", args[0], "--config", LVM_CONFIG, *args[1:]],
        capture_output=True,
        text=True,
        env={**os.environ, "LVM_SUPPRESS_FD_WARNINGS": "1"},
    )
    if check and result.returncode:
        raise AssertionError(f"lvm {' '.join(args)}: {result.stderr}")
    return result.stdout


def dm_names() -> list[str]:
    output = subprocess.run(["dmsetup", "ls"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in output.splitlines() if "\t" in line]


def in_vm_with_spare_disks(*disks: str) -> bool:
    """Inside scripts/vm/run-in-vm with these disks attached (--disk): the only place a test may
    wipe a disk."""
    return os.environ.get("BB_IN_VM") == "1" and all(os.path.exists(disk) for disk in disks)


def blank_disks(*disks: str) -> None:
    """Remove the volume group bb's direct-lvm made and wipe its disks, for the next test."""
    lvm("vgremove", "-ff", "-y", "bb", check=False)
    for disk in disks:
        lvm("pvremove", "-ff", "-y", disk, check=False)
        subprocess.run(["wipefs", "-a", "-q", disk], check=True)
