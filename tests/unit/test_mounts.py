"""Mounting through mount(2): mount(8)-style options, real mounts, and failures that leave
nothing behind."""

import os

import pytest

from bb.errors import DriverError
from bb.system.mounts import (
    MS_NODEV,
    MS_NOSUID,
    MS_RDONLY,
    is_mounted,
    mount,
    split_mount_options,
    unmount,
)


@pytest.mark.parametrize(
    ("options", "flags", "data"),
    [
        ("", 0, ""),
        ("ro,nouuid", MS_RDONLY, "nouuid"),
        ("ro,rw", 0, ""),
        ("defaults,nodev,nosuid", MS_NODEV | MS_NOSUID, ""),
        (
            "lowerdir=l/a:l/b,upperdir=x/diff,nodev,index=off",
            MS_NODEV,
            "lowerdir=l/a:l/b,upperdir=x/diff,index=off",
        ),
    ],
)
def test_options_split_into_flags_and_filesystem_data(options, flags, data):
    assert split_mount_options(options) == (flags, data)


def _mount_options_of(point: str) -> tuple[set[str], set[str]]:
    """(per-mount options, superblock options) of the mount at `point`, from mountinfo."""
    with open("/proc/self/mountinfo") as table:
        for line in table:
            fields = line.split()
            if fields[4] == point:
                after = fields[fields.index("-") + 1 :]
                return set(fields[5].split(",")), set(after[2].split(","))
    raise AssertionError(f"{point} is not mounted")


def test_mount_applies_flags_and_data_then_unmounts(tmp_path):
    point = str(tmp_path)
    mount("tmpfs", point, "tmpfs", "nodev,nosuid,ro,size=1m,mode=0711")
    try:
        per_mount, superblock = _mount_options_of(point)
        assert {"ro", "nodev", "nosuid"} <= per_mount
        assert {"size=1024k", "mode=711"} <= superblock
    finally:
        unmount(point)
    assert not is_mounted(point)
    unmount(point)  # not mounted: nothing to do


def test_relative_paths_resolve_against_cwd_which_is_restored(tmp_path):
    for lower in ("lower", "lowest"):  # without an upper directory, overlayfs wants two
        (tmp_path / lower).mkdir()
    (tmp_path / "lower" / "file").write_text("from the lower layer\n")
    (tmp_path / "merged").mkdir()
    before = os.getcwd()
    mount(
        "overlay", str(tmp_path / "merged"), "overlay", "lowerdir=lower:lowest", cwd=str(tmp_path)
    )
    try:
        assert os.getcwd() == before
        assert (tmp_path / "merged" / "file").read_text() == "from the lower layer\n"
    finally:
        unmount(str(tmp_path / "merged"), lazy=True)


def test_failed_mount_says_what_and_why_and_leaves_nothing(tmp_path):
    before = os.getcwd()
    with pytest.raises(DriverError, match=rf"mount -t nosuchfs .* {tmp_path}: No such device"):
        mount("none", str(tmp_path), "nosuchfs", "ro", cwd="/")
    assert not is_mounted(str(tmp_path))
    assert os.getcwd() == before
