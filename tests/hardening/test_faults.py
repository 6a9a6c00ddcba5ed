"""kill -9 at random points of commit (with and without --rm), pull, load and rmi (fixed seeds);
a full disk during commit."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from bb.system.mounts import mounts_under
from testbed import error_lines


@pytest.fixture
def driver() -> str:
    """Faults hit the store's records and locks, which every driver shares: overlay only."""
    return "overlay"


def assert_consistent(bb) -> None:
    """No half image, no dangling layer reference, no stale mount, no leftover temp file."""
    root = Path(bb.root)
    layers = {p.name[:-5] for p in (root / "layers").glob("*.json")}
    assert not list((root / "layers").glob("*.incomplete"))
    for image_file in (root / "images").glob("*.json"):
        image = json.loads(image_file.read_text())
        assert set(image["layers"]) <= layers
        assert (root / "blobs" / "sha256" / image["id"]).exists()
        assert (root / "blobs" / "sha256" / image["manifest_digest"].split(":")[1]).exists()
    for layer in layers:
        record = json.loads((root / "layers" / f"{layer}.json").read_text())
        assert (root / "blobs" / "sha256" / record["diff_id"].split(":")[1]).exists()
        assert (root / "overlay" / layer / "diff").is_dir()
    assert os.listdir(root / "tmp") == []
    # a container a commit --rm was handing its files to is gone: none shares an inode with a layer
    for container in (root / "containers").iterdir():
        assert not (container / "incomplete").exists()
        upper = root / "overlay" / container.name / "diff"
        assert all(path.lstat().st_nlink == 1 for path in upper.rglob("*") if path.is_file())
    assert not [m for m in mounts_under(str(root)) if "/merged" in m or "/views/" in m]


def kill_after(bb, args: list[str], delay: float) -> None:
    process = subprocess.Popen(
        [bb.executable, *args], env=bb.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_at_random_points(bb, tmp_path, seed):
    rng = random.Random(seed)
    ctr = bb("from", "busybox")
    bb("run", ctr, "--", "sh", "-c", "dd if=/dev/urandom of=/big bs=1M count=40 2>/dev/null")
    archive = tmp_path / "big.tar"
    bb("commit", ctr, "big")
    bb("save", "-o", str(archive), "big")
    bb("rmi", "big")
    handed_over = bb("from", "busybox")
    bb(
        "run",
        handed_over,
        "--",
        "sh",
        "-c",
        "mkdir /many && cd /many && for i in $(seq 3000); do echo $i > $i; done",
    )
    operations = [
        ["commit", ctr, "killed-commit"],
        ["commit", "--rm", handed_over, "killed-commit-rm"],
        ["load", "-i", str(archive)],
        ["rmi", "busybox", "--force"],
        ["pull", f"docker-archive:{archive}"],
    ]
    for operation in operations:
        kill_after(bb, operation, rng.uniform(0.05, 1.2))
        bb("images")  # read-only commands work at once
        bb("from", "scratch")  # the next writing command repairs
        assert_consistent(bb)
    # and the store still builds
    bb("load", "-i", str(archive))
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM big\nRUN test -s /big && echo ok > /ok\n")
    image = bb("build", "-q", str(context)).split()[-1]
    assert bb.run_in(image, "cat /ok") == "ok"


def test_full_disk_during_commit(tmp_path, empty_store_factory):
    image = tmp_path / "small.img"
    subprocess.run(["truncate", "-s", "96M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", str(image)], check=True)
    mountpoint = tmp_path / "small"
    mountpoint.mkdir()
    subprocess.run(["mount", "-o", "loop", str(image), str(mountpoint)], check=True)
    try:
        bb = empty_store_factory("small/store", "overlay")
        ctr = bb("from", "scratch")
        bb("copy", "--chmod", "755", ctr, "/bin/busybox", "/busybox")
        bb("commit", ctr, "fits")
        bb("run", ctr, "--", "/busybox", "dd", "if=/dev/urandom", "of=/fill", "bs=1M", "count=50")
        before = bb("images", "-q", "--notruncate")
        error = bb.fails("commit", ctr, "too-big")
        assert "No space left on device" in error and len(error_lines(error)) == 1, error
        assert bb("images", "-q", "--notruncate") == before
        assert_consistent(bb)
        bb("rm", ctr)
        assert bb.run("from", "fits").returncode == 0
    finally:
        for point in mounts_under(str(mountpoint)):
            subprocess.run(["umount", "-l", point], check=False)
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)
