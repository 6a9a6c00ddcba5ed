"""The shared driver suite: every storage driver must pass it (graphtest's counterpart)."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tarfile
from pathlib import Path

import pytest

import bb.drivers  # noqa: F401  (registers the drivers)
from bb.archive.changes import ChangeKind
from bb.archive.layer_tar import write_layer_tar
from bb.drivers.base import driver_class
from testbed import blank_disks, in_vm_with_spare_disks, lvm

# In the VM (tests/vm/test_devicemapper.py), a spare disk for direct-lvm; never a host's disk.
DIRECT_LVM_DISK = "/dev/vdb"
# devicemapper in each pool mode (loop-lvm files, a pool made with dmsetup, direct-lvm on a
# disk) with each filesystem
DEVICEMAPPER_CONFIGURATIONS = [
    f"devicemapper/{mode}/{filesystem}"
    for mode in (
        "loop",
        "thinpooldev",
        *(["directlvm"] if in_vm_with_spare_disks(DIRECT_LVM_DISK) else []),
    )
    for filesystem in ("ext4", "xfs")
]
SUITE_DRIVERS = [
    configuration
    for name in os.environ.get("BB_TEST_DRIVERS", "overlay,vfs").split(",")
    for configuration in (DEVICEMAPPER_CONFIGURATIONS if name == "devicemapper" else [name])
]


def tree_summary(root: str) -> dict[str, tuple]:
    """Everything a layer must preserve about each entry below `root`."""
    summary = {}
    for current, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(current, name)
            info = os.lstat(path)
            relative = os.path.relpath(path, root)
            if relative == "lost+found":
                continue
            kind = stat.S_IFMT(info.st_mode)
            detail: object = None
            if stat.S_ISREG(info.st_mode):
                detail = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            elif stat.S_ISLNK(info.st_mode):
                detail = os.readlink(path)
            elif stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
                detail = info.st_rdev
            xattrs = {
                n: os.getxattr(path, n, follow_symlinks=False)
                for n in os.listxattr(path, follow_symlinks=False)
                if n.startswith("user.")
            }
            mtime = (
                None
                if stat.S_ISDIR(info.st_mode) or stat.S_ISLNK(info.st_mode)
                else int(info.st_mtime)
            )
            summary[relative] = (
                kind,
                stat.S_IMODE(info.st_mode),
                info.st_uid,
                info.st_gid,
                detail,
                mtime,
                xattrs,
            )
    return summary


def layer_tar(entries: list[tuple]) -> io.BytesIO:
    """A tar from (name, type, content/linkname, mode) tuples."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload, mode in entries:
            info = tarfile.TarInfo(name)
            info.mode, info.mtime, info.type = mode, 1_700_000_000, kind
            data = None
            if kind == tarfile.REGTYPE:
                data = io.BytesIO(payload)
                info.size = len(payload)
            elif kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = payload
            tar.addfile(info, data)
    buffer.seek(0)
    return buffer


BASE = [
    ("etc/", tarfile.DIRTYPE, None, 0o755),
    ("etc/passwd", tarfile.REGTYPE, b"root:x:0:0::/root:/bin/sh\n", 0o644),
    ("etc/hostname", tarfile.REGTYPE, b"base\n", 0o644),
    ("bin/", tarfile.DIRTYPE, None, 0o755),
    ("bin/tool", tarfile.REGTYPE, b"#!/bin/sh\necho tool\n", 0o755),
    ("bin/alias", tarfile.SYMTYPE, "tool", 0o777),
    ("bin/hard", tarfile.LNKTYPE, "bin/tool", 0o755),
    ("data/", tarfile.DIRTYPE, None, 0o700),
    ("data/a", tarfile.REGTYPE, b"a", 0o600),
    ("data/sub/", tarfile.DIRTYPE, None, 0o755),
    ("data/sub/b", tarfile.REGTYPE, b"b", 0o644),
    ("gone/", tarfile.DIRTYPE, None, 0o755),
    ("gone/x", tarfile.REGTYPE, b"x", 0o644),
]


@pytest.fixture(scope="module", params=SUITE_DRIVERS)
def driver_instance(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, thin_pool_factory
):  # type: ignore[no-untyped-def]
    """One driver of each kind per module (a devicemapper pool and base device are slow to make)."""
    name, _, variant = request.param.partition("/")
    cls = driver_class(name)
    cls.check_supported()
    base = tmp_path_factory.mktemp(f"driver-{name}")
    home, run_home = base / "home", base / "run"
    home.mkdir()
    run_home.mkdir()
    options = {}
    if name == "devicemapper":
        mode, filesystem = variant.split("/")
        options = {"dm.basesize": "1G", "dm.fs": filesystem, "dm.loopdatasize": "4G"}
        if mode == "thinpooldev":
            del options["dm.loopdatasize"]
            options["dm.thinpooldev"] = thin_pool_factory(f"bbtest-{filesystem}-{os.getpid()}")
        elif mode == "directlvm":
            del options["dm.loopdatasize"]
            options["dm.directlvm_device"] = DIRECT_LVM_DISK
    instance = cls(str(home), str(run_home), options)
    yield instance
    if name == "devicemapper":
        release_pool_devices(instance, loop=mode == "loop")
        if mode == "directlvm":
            lvm("vgchange", "-an", "bb")
            blank_disks(DIRECT_LVM_DISK)


@pytest.fixture
def driver(driver_instance):  # type: ignore[no-untyped-def]
    """The driver, emptied of layers after each test."""
    yield driver_instance
    for layer_id in sorted(driver_instance.list_layers(), key=lambda layer: layer != "base"):
        driver_instance.remove(layer_id)
    driver_instance.cleanup()


def release_pool_devices(instance, loop: bool) -> None:  # type: ignore[no-untyped-def]
    """Deactivate the base device; tear down a loop-lvm pool so loop devices don't pile up."""
    import subprocess

    subprocess.run(["dmsetup", "remove", f"{instance.prefix}-base"], capture_output=True)
    if not loop:
        return
    subprocess.run(["dmsetup", "remove", instance.pool.name], check=True, capture_output=True)
    for name in ("data", "metadata"):
        path = os.path.join(instance.loop_dir, name)
        found = subprocess.run(["losetup", "-j", path], capture_output=True, text=True).stdout
        for line in found.splitlines():
            subprocess.run(["losetup", "-d", line.split(":")[0]], check=True)


def make_base(driver) -> str:  # type: ignore[no-untyped-def]
    driver.create("base", None)
    driver.apply_diff("base", None, layer_tar(BASE))
    return "base"


def test_create_empty_layer(driver):
    driver.create("empty", None)
    assert driver.exists("empty")
    assert "empty" in driver.list_layers()
    with driver.read_only_view("empty") as view:
        assert tree_summary(view) == {}


def test_apply_diff_then_read(driver):
    make_base(driver)
    with driver.read_only_view("base") as view:
        tree = tree_summary(view)
        assert Path(view, "bin/tool").read_bytes() == b"#!/bin/sh\necho tool\n"
        assert os.readlink(os.path.join(view, "bin/alias")) == "tool"
        assert (
            os.stat(os.path.join(view, "bin/hard")).st_ino
            == os.stat(os.path.join(view, "bin/tool")).st_ino
        )
    assert tree["data"][1] == 0o700
    assert tree["data/a"][1] == 0o600


def test_snapshot_sees_parent_and_stays_separate(driver):
    make_base(driver)
    driver.create("ctr", "base", writable=True)
    root = driver.mount("ctr")
    try:
        assert Path(root, "etc/hostname").read_text() == "base\n"
        Path(root, "etc/hostname").write_text("changed\n")
    finally:
        driver.unmount("ctr")
    with driver.read_only_view("base") as view:
        assert Path(view, "etc/hostname").read_text() == "base\n"


@pytest.mark.parametrize("reuse", [False, True], ids=["copied", "reused"])
def test_changes_and_round_trip(driver, tmp_path, reuse):
    """A layer made from the container's changes shows the container's tree; with `reuse`, as a
    commit that drops its container does, the layer takes over the container's files where the
    file system allows."""
    make_base(driver)
    driver.create("ctr", "base", writable=True)
    root = driver.mount("ctr")
    try:
        Path(root, "etc/hostname").write_text("changed\n")
        Path(root, "etc/new").write_text("new\n")
        os.unlink(os.path.join(root, "bin/alias"))
        shutil.rmtree(os.path.join(root, "gone"))
        # delete and recreate a directory: overlay makes it opaque
        shutil.rmtree(os.path.join(root, "data"))
        os.makedirs(os.path.join(root, "data/fresh"))
        Path(root, "data/fresh/c").write_text("c")
        os.setxattr(os.path.join(root, "etc/new"), "user.note", b"kept")
        os.link(os.path.join(root, "etc/new"), os.path.join(root, "data/fresh/hard"))
        expected = tree_summary(root)
        with driver.changes("ctr", "base") as (content_root, changes):
            kinds = {change.path: change.kind for change in changes}
            blob = tmp_path / "layer.tar"
            with open(blob, "wb") as output:
                write_layer_tar(output, content_root, changes)
            driver.create("copy", "base")
            with open(blob, "rb") as layer:
                driver.apply_diff(
                    "copy", "base", layer, reuse_files_from=content_root if reuse else None
                )
            # the container's etc/new and data/fresh/hard, and the layer's two when it took over
            # the file
            shares_files = (
                reuse and driver.name != "devicemapper"
            )  # its layers are separate devices
            assert os.lstat(os.path.join(content_root, "etc/new")).st_nlink == (
                4 if shares_files else 2
            )
    finally:
        driver.unmount("ctr")
    driver.remove("ctr")
    assert kinds["etc/hostname"] is ChangeKind.MODIFY
    assert kinds["etc/new"] is ChangeKind.ADD
    assert kinds["bin/alias"] is ChangeKind.DELETE
    assert kinds["gone"] is ChangeKind.DELETE
    assert kinds["data/a"] is ChangeKind.DELETE and kinds["data/sub"] is ChangeKind.DELETE
    assert kinds["data/fresh/c"] is ChangeKind.ADD
    assert "etc/passwd" not in kinds and "bin/tool" not in kinds
    names = tarfile.open(blob).getnames()
    assert "bin/.wh.alias" in names and ".wh.gone" in names and "data/.wh.a" in names
    with driver.read_only_view("copy") as view:
        assert tree_summary(view) == expected
        assert (
            os.stat(os.path.join(view, "data/fresh/hard")).st_ino
            == os.stat(os.path.join(view, "etc/new")).st_ino
        )


def test_apply_opaque_whiteout(driver):
    make_base(driver)
    driver.create("upper", "base")
    driver.apply_diff(
        "upper",
        "base",
        layer_tar(
            [
                ("data/", tarfile.DIRTYPE, None, 0o755),
                ("data/.wh..wh..opq", tarfile.REGTYPE, b"", 0o644),
                ("data/only", tarfile.REGTYPE, b"only", 0o644),
                ("etc/.wh.hostname", tarfile.REGTYPE, b"", 0o644),
            ]
        ),
    )
    with driver.read_only_view("upper") as view:
        tree = tree_summary(view)
    assert "data/only" in tree and "data/a" not in tree and "data/sub" not in tree
    assert "etc/hostname" not in tree and "etc/passwd" in tree


def test_changes_of_untouched_container_are_empty(driver):
    make_base(driver)
    driver.create("ctr", "base", writable=True)
    driver.mount("ctr")
    try:
        with driver.changes("ctr", "base") as (_, changes):
            assert changes == []
    finally:
        driver.unmount("ctr")


def test_remove(driver):
    make_base(driver)
    driver.create("ctr", "base", writable=True)
    driver.mount("ctr")
    driver.remove("ctr")
    assert not driver.exists("ctr")
    assert "ctr" not in driver.list_layers()
    assert driver.exists("base")
    driver.remove("ctr")  # removing twice is not an error
