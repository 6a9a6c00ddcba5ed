"""scripts/vm/run-in-vm: commands run in a QEMU VM with device-mapper thin provisioning.

Each test boots a VM (about 10-20 s under TCG); the first run of all also
prepares the kernel cache (download + unpack, about 15-30 s).  Needs root.
Select or skip them with ``-m vm`` / ``-m "not vm"``.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys

import pytest

from testbed import RUN_IN_VM

pytestmark = [
    pytest.mark.vm,
    pytest.mark.skipif(os.geteuid() != 0, reason="run-in-vm needs root"),
    pytest.mark.skipif(platform.machine() != "x86_64", reason="run-in-vm boots an amd64 kernel"),
]


def run_in_vm(
    *args: str, timeout: int = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUN_IN_VM), "--timeout", "400", "--cwd", "/", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )


def explain(res: subprocess.CompletedProcess[str]) -> str:
    return (
        f"exit {res.returncode}\n--- stdout\n{res.stdout[-4000:]}\n--- stderr\n{res.stderr[-4000:]}"
    )


THIN_POOL_SCRIPT = r"""
set -eu
dmsetup targets | grep -q '^thin-pool '
cd /tmp
truncate -s 64M meta.img
truncate -s 4G data.img
META=$(losetup -f --show meta.img)
DATA=$(losetup -f --show data.img)
SECTORS=$(blockdev --getsz "$DATA")
dmsetup create bbpool --table "0 $SECTORS thin-pool $META $DATA 128 32768 1 skip_block_zeroing"
dmsetup mknodes bbpool
dmsetup message bbpool 0 "create_thin 0"
dmsetup create bbthin0 --table "0 2097152 thin /dev/mapper/bbpool 0"
dmsetup mknodes bbthin0
mkfs.ext4 -q /dev/mapper/bbthin0
mkdir -p /mnt/origin /mnt/snap
mount /dev/mapper/bbthin0 /mnt/origin
echo hello-thin > /mnt/origin/file
sync
dmsetup suspend bbthin0
dmsetup message bbpool 0 "create_snap 1 0"
dmsetup resume bbthin0
dmsetup create bbsnap1 --table "0 2097152 thin /dev/mapper/bbpool 1"
dmsetup mknodes bbsnap1
mount /dev/mapper/bbsnap1 /mnt/snap
echo changed > /mnt/origin/file
echo "snapshot: $(cat /mnt/snap/file)"
echo "origin: $(cat /mnt/origin/file)"
dmsetup status bbpool
umount /mnt/snap /mnt/origin
dmsetup remove bbsnap1
dmsetup remove bbthin0
dmsetup remove bbpool
losetup -d "$META" "$DATA"
echo thin-pool-ok
"""


def test_thin_pool_thin_device_and_snapshot():
    res = run_in_vm("--", "sh", "-c", THIN_POOL_SCRIPT)
    assert res.returncode == 0, explain(res)
    assert "snapshot: hello-thin" in res.stdout, explain(res)
    assert "origin: changed" in res.stdout, explain(res)
    assert res.stdout.rstrip().endswith("thin-pool-ok"), explain(res)


def test_exit_status_and_streams_pass_through():
    res = run_in_vm("--", "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 7")
    assert res.returncode == 7, explain(res)
    assert res.stdout == "to-stdout\n", explain(res)
    assert "to-stderr\n" in res.stderr, explain(res)
    assert "to-stdout" not in res.stderr, explain(res)


def test_result_file_comes_back_through_out_dir(tmp_path):
    out = tmp_path / "results"
    script = (
        'set -eu; test "$BB_IN_VM" = 1; test "$MARKER" = "a b"; '
        'mkdir -p "$0/sub"; { hostname; uname -r; echo "$MARKER"; } > "$0/sub/result.txt"'
    )
    res = run_in_vm("--out", str(out), "--env", "MARKER=a b", "--", "sh", "-c", script, str(out))
    assert res.returncode == 0, explain(res)
    result = out / "sub" / "result.txt"
    assert result.is_file(), explain(res)
    hostname, kernel, marker = result.read_text().splitlines()
    assert hostname == "bb-vm"
    assert kernel != platform.release()  # written by the guest's kernel, not the host's
    assert marker == "a b"


RUNC = shutil.which("runc", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


@pytest.mark.skipif(RUNC is None, reason="runc is not installed")
def test_runc_runs_a_container_in_the_vm():
    # A one-binary bundle: the host's static busybox (run-in-vm needs it anyway).
    script = r"""
set -eu
mkdir -p /tmp/bundle/rootfs/bin
cp /bin/busybox /tmp/bundle/rootfs/bin/busybox
cd /tmp/bundle
runc spec
sed -i -e 's/"terminal": true/"terminal": false/' \
       -e 's|"sh"|"/bin/busybox", "sh", "-c", "echo hello-from-runc; cat /proc/self/cgroup"|' \
       config.json
runc run bbvmtest
"""
    res = run_in_vm("--", "sh", "-c", script)
    assert res.returncode == 0, explain(res)
    assert "hello-from-runc" in res.stdout, explain(res)
    assert "0::/" in res.stdout, explain(res)  # cgroup v2, own cgroup namespace


def test_extra_disks_are_virtio_block_devices_removed_afterwards(tmp_path):
    # run-in-vm keeps its run directory (and the sparse disk files) in TMPDIR
    script = (
        "set -eu; blockdev --getsize64 /dev/vda /dev/vdb; "
        "echo on-the-disk | dd of=/dev/vda bs=512 conv=sync,fsync 2>/dev/null; "
        "head -c 11 /dev/vda; echo"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    res = run_in_vm("--disk", "64M", "--disk", "1G", "--", "sh", "-c", script, env=env)
    assert res.returncode == 0, explain(res)
    assert res.stdout.split() == [str(64 << 20), str(1 << 30), "on-the-disk"], explain(res)
    assert list(tmp_path.glob("bb-vm-*")) == [], (
        "the run directory (with its disks) was left behind"
    )


def test_a_bad_disk_size_is_a_usage_error():
    res = run_in_vm("--disk", "12X", "--", "true")
    assert res.returncode == 2, explain(res)
    assert "invalid disk size '12X'" in res.stderr, explain(res)
