"""A kill -9 at any point of a commit leaves nothing half-made once the next bb has run."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from bb.system.mounts import mounts_under


def store_is_consistent(bb):
    root = bb.root
    layer_files = os.listdir(root / "layers")
    assert not [name for name in layer_files if name.endswith(".incomplete")]
    assert os.listdir(root / "tmp") == []
    layers = {name[:-5] for name in layer_files if name.endswith(".json")}
    referenced_blobs = set()
    for record_file in os.listdir(root / "images"):
        if not record_file.endswith(".json"):
            continue
        image = json.loads((root / "images" / record_file).read_text())
        assert set(image["layers"]) <= layers
        referenced_blobs |= {image["manifest_digest"].split(":")[1], image["id"]}
    for layer in layers:
        record = json.loads((root / "layers" / f"{layer}.json").read_text())
        referenced_blobs.add(record["diff_id"].split(":")[1])
    assert set(os.listdir(root / "blobs" / "sha256")) == referenced_blobs
    assert not [m for m in mounts_under(str(root)) if "/merged" in m or "/views/" in m]


@pytest.mark.parametrize("delay", [0.3, 0.6, 0.9])
def test_kill_during_commit(bb, delay):
    ctr = bb("from", "busybox")
    bb(
        "run",
        ctr,
        "--",
        "sh",
        "-c",
        "dd if=/dev/urandom of=/big bs=1M count=100 2>/dev/null; mkdir -p /d; touch /d/a /d/b",
    )
    images_before = set(bb("images", "-q", "--notruncate").split())
    process = subprocess.Popen(
        [bb.executable, "commit", ctr, "crashed"],
        env=bb.env(),
        cwd=bb.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    images_after = set(bb("images", "-q", "--notruncate").split())
    new = images_after - images_before
    if new:  # the commit got to its end: the image must be whole
        (image_id,) = new
        assert bb("inspect", "--format", "{{.Names}}", image_id) == '["localhost/crashed:latest"]'
    bb("containers")  # read-only commands work at once
    bb("from", "scratch")  # the first writing command repairs
    store_is_consistent(bb)
    image = bb("commit", ctr, "crashed")
    other = bb("from", "crashed")
    assert bb("run", other, "--", "sh", "-c", "ls /d") == "a\nb"
    assert bb("run", other, "--", "stat", "-c", "%s", "/big") == str(100 * 1024 * 1024)
    assert image in bb("images", "-q", "--notruncate")


def test_content_left_by_a_dead_writer_is_collected(bb):
    """A process that dies between writing a blob and the record referencing it leaves garbage the
    next bb collects (the kill tests above land there only now and then)."""
    script = (
        "import os, sys\n"
        "from bb.store.config import load_store_options\n"
        "from bb.store.store import Store\n"
        "store = Store.open(load_store_options("
        "graph_root=sys.argv[1], run_root=sys.argv[2], driver=sys.argv[3]))\n"
        "with store.content_in_flight():\n"
        "    print(store.blobs.put(b'nothing will reference this'), flush=True)\n"
        "    os._exit(0)  # dies as kill -9 would: nothing after this runs\n"
    )
    orphan = subprocess.run(
        [sys.executable, "-c", script, str(bb.root), str(bb.runroot), bb.driver],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert (bb.root / "blobs" / "sha256" / orphan.split(":")[1]).exists()
    bb("from", "scratch")  # the first writing command repairs
    assert not (bb.root / "blobs" / "sha256" / orphan.split(":")[1]).exists()
    store_is_consistent(bb)


def test_step_mounts_of_a_killed_build_are_removed(bb, tmp_path):
    secret = f"killed-{os.urandom(8).hex()}"
    (tmp_path / "token").write_text(secret)
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox\nRUN --mount=type=secret,id=token --mount=type=bind,target=/c,rw sleep 60\n"
    )
    process = subprocess.Popen(
        [bb.executable, "build", "--secret", f"id=token,src={tmp_path / 'token'}", str(context)],
        env=bb.env(),
        cwd=bb.cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    step_mounts = bb.runroot / "step-mounts"
    deadline = time.monotonic() + 60
    while not (step_mounts.is_dir() and os.listdir(step_mounts)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert os.listdir(step_mounts), "the step never started"
    process.send_signal(signal.SIGKILL)
    process.wait()
    bb("from", "scratch")  # the first writing command repairs
    assert os.listdir(step_mounts) == []
    found = subprocess.run(
        ["grep", "-rlF", secret, str(bb.root), str(bb.runroot)], capture_output=True, text=True
    )
    assert found.stdout == ""
