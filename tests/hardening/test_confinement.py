"""RUN steps and `bb run` are confined at least as buildah confines them on this machine.

Devices, cgroups, capabilities, seccomp, masked and read-only paths, the network; and the inputs
runc would fail on with only "exit status 1" (an Env entry without a name, a uid above 2^31-1).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from testbed import private_buildah

# What a step reports about itself: its capabilities, seccomp and no_new_privs state, its mounts,
# and which of the paths runc and buildah mask or make read-only exist.
PATHS = [
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
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
    "/sys",
    "/sys/fs/cgroup",
]
REPORT = (
    "grep -E '^(Cap(Prm|Eff|Bnd)|Seccomp|NoNewPrivs):' /proc/self/status; echo ---; "
    "cat /proc/self/mountinfo; echo ---; "
    f"for p in {' '.join(PATHS)}; do [ -e $p ] && echo $p; done; true"
)
# containers-common's default capabilities, as bits of CapBnd
DEFAULT_CAPS = 0x800405FB
STRICTNESS = {"rw": 0, "ro": 1, "masked": 2, "absent": 3}


@pytest.fixture
def driver() -> str:
    """Confinement is the runtime spec's, the same on every driver: overlay only."""
    return "overlay"


def parse_report(text: str) -> dict:
    """The step's status fields, and how far each of PATHS is closed (rw, ro, masked, absent)."""
    status_part, mounts_part, existing_part = text.split("---\n")
    status = dict(line.split(":\t") for line in status_part.splitlines())
    mounts: list[dict] = []
    for line in mounts_part.splitlines():
        fields = line.split()
        separator = fields.index("-")
        mounts.append(
            {
                "root": fields[3],
                "point": fields[4],
                "options": fields[5].split(","),
                "type": fields[separator + 1],
            }
        )
    existing = set(existing_part.split())
    paths = {}
    for path in PATHS:
        if path not in existing:
            paths[path] = "absent"
            continue
        # the mount that covers the path is the last one mounted at it or above it
        covering = [
            m for m in mounts if path == m["point"] or path.startswith(m["point"].rstrip("/") + "/")
        ]
        mount = max(covering, key=lambda m: len(m["point"]))
        if mount["point"] == path and (
            mount["root"] == "/null" or (mount["type"] == "tmpfs" and "ro" in mount["options"])
        ):
            paths[path] = "masked"
        else:
            paths[path] = "ro" if "ro" in mount["options"] else "rw"
    cgroup_mounts = [m for m in mounts if m["type"] in ("cgroup", "cgroup2")]
    return {
        "caps": {key: int(status[key], 16) for key in ("CapPrm", "CapEff", "CapBnd")},
        "seccomp": int(status["Seccomp"]),
        "no_new_privs": int(status["NoNewPrivs"]),
        "paths": paths,
        "cgroup_writable": any("ro" not in m["options"] for m in cgroup_mounts),
    }


def run_script(
    bb, script: str, *flags: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `sh -c script` in a fresh busybox container with `bb run flags...`."""
    ctr = bb("from", "busybox")
    try:
        return bb.run("run", *flags, ctr, "--", "sh", "-c", script, check=check)
    finally:
        bb("rm", ctr)


@pytest.fixture
def loop_device(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A loop device attached over a file of known content: (major, minor, content)."""
    content = b"host secret on a loop device\n" * 64
    backing = tmp_path / "loop-backing.img"
    backing.write_bytes(content.ljust(64 * 1024, b"\0"))
    attach = subprocess.run(
        ["losetup", "-f", "--show", str(backing)], capture_output=True, text=True, check=False
    )
    if attach.returncode != 0:
        pytest.skip(f"no loop device: {attach.stderr.strip()}")
    device = attach.stdout.strip()
    try:
        info = os.stat(device)
        yield os.major(info.st_rdev), os.minor(info.st_rdev), content[:29].decode()
    finally:
        subprocess.run(["losetup", "-d", device], check=False)


ESCAPE = (
    # the quotes keep the markers out of the script's own text, which bb build echoes
    "mknod /tmp/node b {major} {minor} && echo mknod''-done; "
    # into the host's root devices cgroup (v1), or the root of the unified hierarchy (v2)
    "for f in /sys/fs/cgroup/devices/cgroup.procs /sys/fs/cgroup/devices/tasks "
    "/sys/fs/cgroup/cgroup.procs; do "
    "  [ -e $f ] && echo $$ > $f 2>/dev/null && echo moved''-by-$f; done; "
    "head -c 64 /tmp/node; rm -f /tmp/node; true"
)


@pytest.mark.parametrize("flags", [(), ("--cap-add", "MKNOD")], ids=["default", "cap-add-mknod"])
def test_a_step_cannot_read_a_host_block_device(bb, loop_device, flags):
    """mknod of the loop's node, a move into the root cgroup, then a read: the read fails."""
    major, minor, secret = loop_device
    result = run_script(bb, ESCAPE.format(major=major, minor=minor), *flags)
    assert secret not in result.stdout
    assert "moved-by" not in result.stdout
    if flags:
        # the node was made: it is the device rules, not a missing capability, that refuse it
        assert "mknod-done" in result.stdout


def test_a_build_step_cannot_read_a_host_block_device(bb, loop_device, tmp_path):
    major, minor, secret = loop_device
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"FROM busybox\nRUN {ESCAPE.format(major=major, minor=minor)}\n"
    )
    result = bb.run("build", "--cap-add", "MKNOD", str(context))
    assert "mknod-done" in result.stdout
    assert secret not in result.stdout and "moved-by" not in result.stdout


def test_cgroups_are_private_and_read_only(bb):
    report = parse_report(run_script(bb, REPORT).stdout)
    assert not report["cgroup_writable"]
    # its own cgroup namespace: the step sees itself at the root of every hierarchy
    cgroups = run_script(bb, "cat /proc/self/cgroup").stdout.splitlines()
    assert cgroups and all(line.endswith(":/") for line in cgroups)


@pytest.fixture
def buildah(tmp_path: Path, bb):  # type: ignore[no-untyped-def]
    """buildah on a private store in tmp_path, with the bb busybox image as a working container."""
    if shutil.which("buildah") is None:
        pytest.skip("buildah is not installed")
    base = tmp_path / "buildah"
    archive = tmp_path / "busybox-oci.tar"
    bb("push", "busybox", f"oci-archive:{archive}")
    with private_buildah(base) as command:
        ctr = subprocess.run(
            [*command, "from", "--quiet", f"oci-archive:{archive}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        yield command, ctr
    shutil.rmtree(base, ignore_errors=True)


def test_no_wider_than_buildah(bb, buildah):
    """Capabilities, seccomp, no_new_privs, masked/read-only paths, cgroup mounts: bb <= buildah."""
    command, ctr = buildah
    # buildah's own network namespace would need CNI on the host; the rest does not depend on it
    theirs = parse_report(
        subprocess.run(
            [*command, "run", "--network", "none", ctr, "--", "sh", "-c", REPORT],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    ours = parse_report(run_script(bb, REPORT).stdout)
    for key in ("CapPrm", "CapEff", "CapBnd"):
        assert ours["caps"][key] & ~theirs["caps"][key] == 0, f"{key}: bb {ours['caps'][key]:#x}"
    assert ours["caps"]["CapBnd"] == DEFAULT_CAPS
    assert ours["seccomp"] >= theirs["seccomp"] == 2
    assert ours["no_new_privs"] >= theirs["no_new_privs"]
    wider = {
        path: (state, theirs["paths"][path])
        for path, state in ours["paths"].items()
        if STRICTNESS[state] < STRICTNESS[theirs["paths"][path]]
    }
    assert not wider, f"bb (first) leaves these more open than buildah: {wider}"
    assert ours["cgroup_writable"] <= theirs["cgroup_writable"]


def test_capability_flags(bb):
    def bounding(*flags: str) -> int:
        return parse_report(run_script(bb, REPORT, *flags).stdout)["caps"]["CapBnd"]

    assert bounding("--cap-drop", "ALL") == 0
    assert bounding("--cap-drop", "all", "--cap-add", "SYS_ADMIN") == 0
    assert bounding("--cap-drop", "chown", "--cap-drop", "CAP_KILL") == DEFAULT_CAPS & ~(
        1 << 0
    ) & ~(1 << 5)
    everything = bounding("--cap-add", "ALL", "--cap-drop", "SYS_ADMIN")
    assert (
        everything & DEFAULT_CAPS == DEFAULT_CAPS
        and not everything & (1 << 21)
        and everything & (1 << 27)
    )
    error = bb.fails("run", "--cap-drop", "CAP_BOGUS", bb("from", "busybox"), "--", "true")
    assert error.strip() == 'Error: --cap-drop "CAP_BOGUS": unknown capability'


def test_build_capability_flags(bb, tmp_path):
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN grep CapBnd /proc/self/status\n")
    output = bb("build", "--cap-drop", "ALL", str(context))
    assert "CapBnd:\t0000000000000000" in output
    output = bb("ctr-img", "build", "--cap-add", "SYS_ADMIN", str(context))
    assert f"CapBnd:\t{DEFAULT_CAPS | 1 << 21:016x}" in output


def test_seccomp_profiles(bb, tmp_path):
    def seccomp(*flags: str) -> int:
        return parse_report(run_script(bb, REPORT, *flags).stdout)["seccomp"]

    assert seccomp() == 2
    assert seccomp("--security-opt", "seccomp=unconfined") == 0
    # a profile of one's own is translated as the default one is: here, mkdir fails with EPERM
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
                ],
            }
        )
    )
    result = run_script(bb, "mkdir /made", "--security-opt", f"seccomp={profile}", check=False)
    assert result.returncode == 1 and "Operation not permitted" in result.stderr
    # a missing profile: one Error line naming it, nothing run, nothing left mounted (the
    # fixture checks)
    ctr = bb("from", "busybox")
    result = bb.run(
        "run",
        "--security-opt",
        f"seccomp={tmp_path}/missing.json",
        ctr,
        "--",
        "touch",
        "/ran",
        check=False,
    )
    assert result.returncode == 125
    assert result.stderr.strip().splitlines() == [
        (
            f"Error: seccomp profile {tmp_path}/missing.json: no such file "
            "(run with --security-opt seccomp=unconfined)"
        )
    ]
    assert bb.run("run", ctr, "--", "test", "-e", "/ran", check=False).returncode == 1
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    assert "not a regular file" in bb.fails(
        "run", "--security-opt", f"seccomp={fifo}", ctr, "--", "true"
    )
    assert "expected seccomp=" in bb.fails("run", "--security-opt", "apparmor=x", ctr, "--", "true")


def test_no_new_privileges(bb):
    assert parse_report(run_script(bb, REPORT).stdout)["no_new_privs"] == 0
    assert (
        parse_report(run_script(bb, REPORT, "--security-opt", "no-new-privileges").stdout)[
            "no_new_privs"
        ]
        == 1
    )


def test_network_none_has_only_loopback(bb, tmp_path):
    listing = "ls /sys/class/net; echo ---; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"
    own, devices = run_script(bb, listing, "--network", "none").stdout.split("---\n")
    assert own.split() == ["lo"] and devices.split() == ["lo"]
    # host stays the default, and its sysfs shows the host's interfaces
    host, _ = run_script(bb, listing).stdout.split("---\n")
    assert sorted(host.split()) == sorted(os.listdir("/sys/class/net"))
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN ls /sys/class/net\n")
    output = bb("build", "--network", "none", str(context))
    assert "lo\n" in output and not any(
        name in output.split() for name in os.listdir("/sys/class/net") if name != "lo"
    )
    error = bb.fails("build", "--network", "bridge", str(context))
    assert error.strip() == 'Error: --network "bridge": expected host or none'


def test_run_network_per_step(bb, tmp_path):
    # BuildKit's RUN --network: the step's own value beats the build's --network
    host_interfaces = sorted(os.listdir("/sys/class/net"))
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox\n"
        "RUN --network=none ls /sys/class/net > /none\n"
        "RUN --network=host ls /sys/class/net > /host\n"
        "RUN --network=default ls /sys/class/net > /default\n"
    )
    for build_network, default in (("host", host_interfaces), ("none", ["lo"])):
        image = bb("build", "-q", "--network", build_network, str(context)).splitlines()[-1]
        ctr = bb("from", image)
        seen = {
            name: bb("run", ctr, "--", "cat", f"/{name}").split()
            for name in ("none", "host", "default")
        }
        assert seen == {"none": ["lo"], "host": host_interfaces, "default": default}
    (context / "Dockerfile").write_text("FROM busybox\nRUN --network=bridge true\n")
    error = bb.fails("build", str(context))
    assert error.strip() == "Error: Dockerfile:2: RUN --network: expected default, host or none"


def image_with_env(bb, tmp_path: Path, entry: str) -> str:
    """A busybox OCI layout whose config's Env has `entry` added, as another tool could write it."""
    layout = tmp_path / "layout"
    bb("push", "busybox", f"oci:{layout}:latest")
    blobs = layout / "blobs" / "sha256"

    def store(document: dict) -> dict:
        data = json.dumps(document).encode()
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_bytes())
    config = json.loads((blobs / manifest["config"]["digest"].split(":")[1]).read_bytes())
    config["config"]["Env"] = [*(config["config"].get("Env") or []), entry]
    manifest["config"].update(store(config))
    index["manifests"][0].update(store(manifest))
    (layout / "index.json").write_text(json.dumps(index))
    return f"oci:{layout}:latest"


def test_env_without_a_name_is_refused_before_runc(bb, tmp_path):
    ctr = bb("from", "busybox")
    error = bb.fails("run", "-e", "=x", ctr, "--", "true")
    assert error.strip() == 'Error: --env: environment variable "=x" has no name'
    # `bb config --env` refuses it too; an image made elsewhere may carry it
    ctr = bb("from", image_with_env(bb, tmp_path, "=x"))
    error = bb.fails("run", ctr, "--", "true")
    assert error.strip() == 'Error: the container\'s config: environment variable "=x" has no name'


def test_uid_above_runc_range_is_refused_before_runc(bb, tmp_path):
    ctr = bb("from", "busybox")
    error = bb.fails("run", "--user", "4294967295", ctr, "--", "true")
    assert (
        error.strip()
        == 'Error: user "4294967295": uid "4294967295" is not a number from 0 to 2147483647'
    )
    assert "is not a number" in bb.fails("run", "--user", "0:2147483648", ctr, "--", "true")
    assert bb("run", "--user", "2147483647", ctr, "--", "id", "-u") == "2147483647"
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nUSER 4294967295\nRUN true\n")
    result = bb.run("build", str(context), check=False)
    assert result.returncode == 125
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and 'uid "4294967295" is not a number' in errors[0], result.stderr
