"""SIGINT/SIGTERM to bb (alone or its whole process group) during a RUN and outside one, and
SIGKILL during a RUN: the step is killed even when its PID 1 ignores the signal, and nothing
(runc state, bundle, mount, process) is left."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from bb.system.mounts import mounts_under
from testbed import wait_for


@pytest.fixture
def driver() -> str:
    """What a signal leaves is the runtime's and the store's, which every driver shares: overlay."""
    return "overlay"


def step_script() -> tuple[str, list[str]]:
    """A step whose shell ignores SIGTERM and SIGINT, and the command line of its sleep (unique)."""
    seconds = str(random.randrange(100_000, 999_999))
    return f"trap '' TERM INT; sleep {seconds}", ["sleep", seconds]


def processes_running(cmdline: list[str]) -> list[int]:
    """PIDs of processes (not zombies, whose command line reads empty) running `cmdline`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as text:
                if text.read().split(b"\0")[:-1] == [part.encode() for part in cmdline]:
                    found.append(int(entry))
        except OSError:
            continue
    return found


def start_bb(bb, *args: str) -> subprocess.Popen[str]:
    """bb in a process group of its own (so a group signal spares pytest)."""
    return subprocess.Popen(
        [bb.executable, *args],
        env=bb.env(),
        cwd=bb.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def send(process: subprocess.Popen[str], number: int, whole_group: bool) -> None:
    """Signal bb alone, or its whole process group as a terminal's ^C does."""
    if whole_group:
        os.killpg(process.pid, number)
    else:
        process.send_signal(number)


def assert_nothing_left(bb, cmdline: list[str]) -> None:
    """No step process, runc container, bundle or mount of the store remains."""
    wait_for(lambda: not processes_running(cmdline), "the step's processes to go", timeout=10)
    runc = subprocess.run(
        ["runc", "--root", str(bb.runroot / "runc"), "list", "-q"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert runc.stdout.strip() == "", runc.stdout
    bundles = bb.runroot / "bundles"
    assert not bundles.exists() or os.listdir(bundles) == []
    assert mounts_under(str(bb.root)) == [] and mounts_under(str(bb.runroot)) == []


def container_names(bb) -> list[str]:
    """The names of the store's working containers."""
    return [record["containername"] for record in json.loads(bb("containers", "--json"))]


def assert_interrupted(process: subprocess.Popen[str], number: int) -> str:
    """bb exits 128 + signal within seconds, with one Error line and no traceback; return it."""
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 128 + number, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, stderr
    assert signal.Signals(number).name in errors[0]
    return errors[0]


@pytest.mark.parametrize("whole_group", [False, True], ids=["bb", "group"])
@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_run_kills_the_step(bb, number, whole_group):
    ctr = bb("from", "busybox")
    script, cmdline = step_script()
    process = start_bb(bb, "run", ctr, "--", "sh", "-c", script)
    wait_for(lambda: processes_running(cmdline), "the step to start")
    send(process, number, whole_group)
    assert_interrupted(process, number)
    assert_nothing_left(bb, cmdline)
    # bb run never removes the container it was given, and the container still runs steps
    assert container_names(bb) == [ctr]
    assert bb("run", ctr, "--", "echo", "again") == "again"


def write_dockerfile(directory: Path, script: str) -> Path:
    """A build context whose second RUN is `script`."""
    directory.mkdir()
    (directory / "Dockerfile").write_text(
        f"FROM busybox\nRUN touch /before\nRUN {script}\nRUN touch /after\n"
    )
    return directory


@pytest.mark.parametrize(
    ("number", "whole_group", "keep_failed"),
    [(signal.SIGINT, True, False), (signal.SIGTERM, False, False), (signal.SIGTERM, True, True)],
    ids=["SIGINT-group", "SIGTERM-bb", "SIGTERM-group-keep-failed"],
)
def test_signal_during_build_kills_the_step(bb, tmp_path, number, whole_group, keep_failed):
    script, cmdline = step_script()
    context = write_dockerfile(tmp_path / "ctx", script)
    images_before = bb("images", "-q")
    process = start_bb(
        bb, "build", *(["--keep-failed"] if keep_failed else []), "-t", "never", str(context)
    )
    wait_for(lambda: processes_running(cmdline), "the RUN to start")
    send(process, number, whole_group)
    error = assert_interrupted(process, number)
    assert "Dockerfile:3: RUN" in error
    assert_nothing_left(bb, cmdline)
    assert "never" not in bb("images")
    if keep_failed:
        # kept as it was before the interrupted step, as for a failed one
        assert container_names(bb) == ["build-failed-working-container"]
        assert "build-failed-working-container" in error
        bb("run", "build-failed-working-container", "--", "test", "-e", "/before")
        bb("run", "build-failed-working-container", "--", "test", "!", "-e", "/after")
    else:
        assert container_names(bb) == []
        assert bb("images", "-q") == images_before


@pytest.mark.parametrize("command", ["run", "build"])
def test_sigkill_during_run_is_reaped_by_the_next_bb(bb, tmp_path, command):
    script, cmdline = step_script()
    if command == "run":
        ctr = bb("from", "busybox")
        process = start_bb(bb, "run", ctr, "--", "sh", "-c", script)
    else:
        process = start_bb(bb, "build", str(write_dockerfile(tmp_path / "ctx", script)))
    wait_for(lambda: processes_running(cmdline), "the step to start")
    process.kill()
    process.wait()
    # not communicate(): the orphaned runc holds the pipes open until the step is reaped
    for pipe in (process.stdout, process.stderr):
        assert pipe is not None
        pipe.close()
    time.sleep(0.5)
    assert processes_running(cmdline), "runc and the step outlive a SIGKILLed bb"
    bb("from", "scratch")  # the next writing command repairs
    assert_nothing_left(bb, cmdline)
    if command == "run":
        assert bb("run", ctr, "--", "echo", "again") == "again"


def test_signal_outside_run_exits_cleanly(bb):
    """SIGINT while bb waits on a registry that never answers: 130, one Error line, nothing left."""
    images_before = bb("images", "-q")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    try:
        port = listener.getsockname()[1]
        process = start_bb(bb, "pull", f"docker://127.0.0.1:{port}/silent:latest")
        wait_for(lambda: accepted, "bb to connect")
        time.sleep(0.2)
        send(process, signal.SIGINT, whole_group=False)
        assert_interrupted(process, signal.SIGINT)
    finally:
        for connection in accepted:
            connection.close()
        listener.close()
    assert os.listdir(bb.root / "tmp") == []
    assert bb("images", "-q") == images_before
