"""direct-lvm on real virtual disks: bb sets up a volume group and thin-pool LV with lvm2.

Run inside scripts/vm/run-in-vm booted with two spare disks (tests/vm/test_devicemapper.py
passes `--disk 2G --disk 2G`: /dev/vda and /dev/vdb); elsewhere they are skipped. The guest
has no udev and no dmeventd, as bb's users may not. Each test gets clean disks back.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from devicemapper.test_devicemapper_cli import CORPUS, Store, _dm_available, data_used, reference

from testbed import blank_disks, dm_names, in_vm_with_spare_disks, lvm, wait_for

DISK, OTHER_DISK = "/dev/vda", "/dev/vdb"
# These tests wipe both disks: only in the VM, where they are spare (a host's /dev/vda is its own)
pytestmark = pytest.mark.skipif(
    not (in_vm_with_spare_disks(DISK, OTHER_DISK) and _dm_available()),
    reason="needs device-mapper and two spare disks (run via tests/vm/test_devicemapper.py)",
)
__all__ = ["reference"]  # the fixture, imported for the corpus test


def store_prefix(store: Store) -> str:
    info = os.stat(store.base / "root" / "devicemapper")
    return f"bb-{os.major(info.st_dev)}:{os.minor(info.st_dev)}-{info.st_ino}-"


def release(store: Store) -> None:
    """What a reboot does to a store: every device of it deactivated, the pool LV too."""
    mounts = store.base / "root" / "devicemapper" / "mnt"
    subprocess.run(["umount", "-R", "-l", str(mounts)], stderr=subprocess.DEVNULL, check=False)
    for name in dm_names():
        if name.startswith(store_prefix(store)):
            subprocess.run(["dmsetup", "remove", "-f", name], check=False)
    lvm("vgchange", "-an", "bb", check=False)


@pytest.fixture
def disks() -> Iterator[list[Store]]:
    """The stores a test makes; afterwards the volume group is gone and both disks are blank."""
    stores: list[Store] = []
    yield stores
    for store in stores:
        if (store.base / "root" / "devicemapper").exists():
            release(store)
    blank_disks(DISK, OTHER_DISK)


def direct_lvm(base: Path, disks: list[Store], **options: str) -> Store:
    store = Store(
        base,
        "devicemapper",
        {"dm.directlvm_device": DISK, "dm.basesize": "1G", **options},
    )
    disks.append(store)
    return store


def shell_container(store: Store) -> str:
    """A container holding only a static busybox (no image to build first)."""
    ctr = store("from", "scratch")
    store("copy", "--chmod", "755", ctr, "/bin/busybox", "/busybox")
    return ctr


def blkid_type(device: str) -> str:
    return subprocess.run(
        ["blkid", "-p", "-o", "value", "-s", "TYPE", device], capture_output=True, text=True
    ).stdout.strip()


def isula_build_store(base: Path, disks: list[Store], device: str) -> Store:
    """A store configured in isula-build's storage.toml spelling ([storage.options.thinpool])."""
    store = direct_lvm(base, disks)
    (base / "storage.toml").write_text(
        f'[storage]\ndriver = "devicemapper"\ngraphroot = "{base / "root"}"\n'
        f'runroot = "{base / "run"}"\n[storage.options]\n"dm.thinp_percent" = "60"\n'
        f'[storage.options.thinpool]\ndirectlvm_device = "{device}"\nbasesize = "1G"\n'
        'autoextend_threshold = "90"\nlog_level = "7"\n'
    )
    return store


def test_setup_builds_reuse_after_restart_and_a_changed_device_is_refused(
    tmp_path, disks, reference
):
    store = isula_build_store(tmp_path / "store", disks, DISK)
    store.build_busybox()
    assert store.build_case("instructions") == reference["instructions"]
    ctr = store("from", "busybox")
    shown = store.run("run", ctr, "--", "sh", "-c", "echo kept > /file").stderr
    # log_level 7 shows what dmsetup and lvm were asked, and what they answered
    assert "devicemapper: $ dmsetup status bb-thinpool" in shown, shown
    assert "devicemapper: 0 " in shown and " thin-pool " in shown, shown
    status = store.status()
    assert status["Pool Name"] == "bb-thinpool"
    assert status["Direct LVM Device"] == DISK
    assert status["Volume Group"] == "bb"
    assert status["Logical Volume"] == "bb/thinpool"
    assert status["Thin Pool Autoextend Threshold"] == "90%"
    assert status["Thin Pool Autoextend Percent"] == "20%"
    assert "Warning" not in status  # the loop-lvm warning
    # what moby's direct-lvm makes: the pool LV, 60% of the VG, with its profile, failing when full
    size, profile, when_full, vg_size = lvm(
        "lvs", "--noheadings", "--units", "b", "--nosuffix",
        "-o", "lv_size,lv_profile,lv_when_full,vg_size", "bb/thinpool",
    ).split()  # fmt: skip
    assert (profile, when_full) == ("bb-thinpool", "error")
    assert abs(int(size) / int(vg_size) - 0.60) < 0.01
    profile_text = Path("/etc/lvm/profile/bb-thinpool.profile").read_text()
    assert "thin_pool_autoextend_threshold=90" in profile_text
    assert "thin_pool_autoextend_percent=20" in profile_text
    setup = (store.base / "root" / "devicemapper" / "setup-config.json").read_text()
    assert DISK in setup

    # a reboot: nothing is active; the next bb activates the pool again and finds the data
    release(store)
    assert "bb-thinpool" not in dm_names()
    assert store("run", ctr, "--", "cat", "/file") == "kept"

    # the same store pointed at another disk is refused, and neither disk is touched
    moved = isula_build_store(store.base, disks, OTHER_DISK)
    refused = moved.run("run", ctr, "--", "true", check=False)
    assert refused.returncode == 125, refused.stderr
    assert refused.stderr.count("Error:") == 1
    assert f'dm.directlvm_device="{OTHER_DISK}"' in refused.stderr
    assert f'"{DISK}"' in refused.stderr and "not supported" in refused.stderr
    assert blkid_type(OTHER_DISK) == ""
    store = isula_build_store(store.base, disks, DISK)
    assert store("run", ctr, "--", "cat", "/file") == "kept"


def test_a_device_holding_data_is_refused_unless_forced(tmp_path, disks):
    subprocess.run(["mkfs.ext4", "-q", "-F", OTHER_DISK], check=True)
    options = {"dm.directlvm_device": OTHER_DISK}
    refused = direct_lvm(tmp_path / "refused", disks, **options).run("info", check=False)
    assert refused.returncode == 125, refused.stderr
    assert "ext4" in refused.stderr and "dm.directlvm_device_force=true" in refused.stderr
    assert blkid_type(OTHER_DISK) == "ext4"  # left as it was
    # a bare physical volume is refused too
    lvm("pvcreate", "-y", DISK)
    refused = direct_lvm(tmp_path / "pv", disks).run("info", check=False)
    assert refused.returncode == 125 and "LVM physical volume" in refused.stderr, refused.stderr

    forced = direct_lvm(
        tmp_path / "forced", disks, **options, **{"dm.directlvm_device_force": "true"}
    )
    assert forced.status()["Direct LVM Device"] == OTHER_DISK
    assert blkid_type(OTHER_DISK) == "LVM2_member"
    # a device in bb's volume group is never taken, forced or not
    again = direct_lvm(tmp_path / "again", disks, **options, **{"dm.directlvm_device_force": "1"})
    refused = again.run("info", check=False)
    assert refused.returncode == 125 and 'volume group "bb"' in refused.stderr, refused.stderr


def pool_size() -> int:
    return int(
        lvm("lvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "lv_size", "bb/thinpool")
    )


def test_autoextend_when_use_crosses_the_threshold(tmp_path, disks):
    store = direct_lvm(
        tmp_path / "store",
        disks,
        **{"dm.thinp_percent": "20", "dm.thinp_autoextend_threshold": "50"},
    )
    ctr = shell_container(store)
    before = pool_size()
    store("run", ctr, "--", "/busybox", "dd", "if=/dev/urandom", "of=/fill", "bs=1M", "count=230")
    assert pool_size() == before  # bb extends only when it adds a device
    store("from", "scratch")
    grown = pool_size()
    # lvextend --use-policies with the profile: steps of 20% until use is below the threshold
    assert grown > 1.15 * before, (before, grown)
    assert data_used(store) < 0.5 * grown
    assert store.status()["Thin Pool Autoextend Threshold"] == "50%"


def test_a_full_pool_fails_the_run_at_once_and_rmi_gives_the_space_back(tmp_path, disks):
    store = direct_lvm(
        tmp_path / "store",
        disks,
        **{"dm.thinp_percent": "15", "dm.thinp_autoextend_threshold": "100"},
    )
    ctr = shell_container(store)
    # the pool fails writes when full rather than queueing them (the kernel's default, for 60 s)
    pool = subprocess.run(["dmsetup", "status", "bb-thinpool"], capture_output=True, text=True)
    assert "error_if_no_space" in pool.stdout.split(), pool
    baseline = data_used(store)
    start = time.monotonic()
    fill = ["dd", "if=/dev/urandom", "of=/fill", "bs=1M", "count=600", "conv=fsync"]
    full = store.run("run", ctr, "--", "/busybox", *fill, check=False)
    elapsed = time.monotonic() - start
    assert full.returncode != 0
    errors = [line for line in full.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and re.search(r'thin pool "bb-thinpool" is full', errors[0]), (
        full.stderr
    )
    # ~300 MB of writes under emulation; a pool queueing I/O would hang for 60 s or more
    assert elapsed < 120, elapsed
    # dm.min_free_space still refuses new devices while it is full
    refused = store.run("from", "scratch", check=False)
    assert refused.returncode == 125 and "thin pool" in refused.stderr, refused.stderr
    # the store is consistent: the container is there, and removing it frees the pool
    assert store("containers", "-q") != ""
    store("rm", ctr)
    assert data_used(store) < baseline + 20e6
    ctr = shell_container(store)
    assert store("run", ctr, "--", "/busybox", "echo", "writable") == "writable"


@contextlib.contextmanager
def held_open(device_name: str) -> Iterator[None]:
    """Another process holding the device open, as a mount in a runc container's namespace
    would. (A real mount held in another namespace hung this guest's kernel once, in jbd2, when
    its namespace went away with the device marked for deferred removal; an open descriptor
    keeps the device busy the same way.)"""
    with open(f"/dev/mapper/{device_name}", "rb") as device:
        holder = subprocess.Popen(
            ["sh", "-c", "echo ready; exec sleep 600"],
            stdin=device,
            stdout=subprocess.PIPE,
            text=True,
        )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        yield
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.wait()


def test_deferred_deletion_of_a_busy_device(tmp_path, disks):
    store = direct_lvm(tmp_path / "store", disks, **{"dm.use_deferred_deletion": "true"})
    ctr = shell_container(store)
    name = store_prefix(store) + ctr_layer(store, ctr)
    store("mount", ctr)
    with held_open(name):
        store("umount", ctr)
        strict = Store(store.base, "devicemapper", {"dm.directlvm_device": DISK})
        busy = strict.run("rm", ctr, check=False)
        assert busy.returncode == 125 and "busy" in busy.stderr, busy.stderr
        # the removal was begun: the store still works (the repair fails quietly while the
        # device is busy), and a later bb finishes it, now deferring the busy device's deletion
        other = strict("from", "scratch")  # repairs first
        assert name in dm_names()
        store = Store(
            store.base,
            "devicemapper",
            {"dm.directlvm_device": DISK, "dm.use_deferred_deletion": "true"},
        )
        store("rm", other)  # repairs first
        assert store("containers", "-q") == ""
        assert store.status()["Deferred Deleted Device Count"] == "1"
        assert [n for n in dm_names() if "-deferred-" in n]
        assert name not in dm_names()  # a new device of that layer id would not clash
    # the next bb that opens the pool deletes it
    assert store.status()["Deferred Deleted Device Count"] == "0"
    assert not [n for n in dm_names() if "-deferred-" in n]


def test_deferred_removal_of_a_busy_device(tmp_path, disks):
    store = direct_lvm(tmp_path / "store", disks, **{"dm.use_deferred_removal": "true"})
    assert store.status()["Deferred Removal Enabled"] == "true"
    ctr = shell_container(store)
    name = store_prefix(store) + ctr_layer(store, ctr)
    store("mount", ctr)
    with held_open(name):
        store("umount", ctr)
        # still open, so still there, but marked: the kernel removes it when it is closed
        info = subprocess.run(["dmsetup", "info", name], capture_output=True, text=True).stdout
        assert "DEFERRED REMOVE" in info, info
    wait_for(lambda: name not in dm_names(), "the kernel to remove the closed device", 30)
    assert store("run", ctr, "--", "/busybox", "echo", "usable") == "usable"


@pytest.mark.parametrize("filesystem", ["ext4", "xfs"])
def test_corpus_on_direct_lvm(tmp_path, disks, reference, filesystem):
    options = {"dm.fs": filesystem, "dm.directlvm_device": OTHER_DISK}
    if filesystem == "xfs":
        options["dm.xfs_nospace_max_retries"] = "0"
    store = direct_lvm(tmp_path / filesystem, disks, **options)
    store.build_busybox()
    for case in CORPUS:
        assert store.build_case(case) == reference[case], case
    assert store.status()["Backing Filesystem"] == filesystem
    if filesystem != "xfs":
        return
    ctr = store("from", "busybox")
    store("mount", ctr)
    name = store_prefix(store) + ctr_layer(store, ctr)
    rdev = os.stat(f"/dev/mapper/{name}").st_rdev
    dm = os.path.basename(os.path.realpath(f"/sys/dev/block/{os.major(rdev)}:{os.minor(rdev)}"))
    assert Path(f"/sys/fs/xfs/{dm}/error/metadata/ENOSPC/max_retries").read_text().strip() == "0"
    store("umount", ctr)


def ctr_layer(store: Store, ctr: str) -> str:
    """The layer id of a container (its device is named after it)."""
    return store("inspect", "--format", "{{.ContainerID}}", ctr)
