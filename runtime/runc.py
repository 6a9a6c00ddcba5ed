"""Run one process in a root file system with runc, in the foreground; reap what a dead bb left.

A step's bundle is `<run root>/bundles/bb-<pid>-<start time>-<random>`, named for the bb process
that runs it (its PID and its start time, which a reused PID does not share), and the runc
container is named as the bundle. A bb killed with SIGKILL leaves both, and runc and the step
still running: the next bb's repair kills and deletes them (`reap_abandoned`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from typing import Any

from bb.errors import ToolFailed
from bb.system.tools import run_tool, run_tool_foreground

BUNDLE_PREFIX = "bb-"


def _start_time(pid: int) -> str | None:
    """When `pid` started (clock ticks after boot, /proc/PID/stat field 22); None if dead."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            # the command name (field 2) may hold spaces and parentheses: split after its last ')'
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    # a zombie has exited; only its parent has not collected its status yet
    return None if len(fields) < 20 or fields[0] in ("Z", "X") else fields[19]


def _runc_root(run_root: str) -> str:
    return os.path.join(run_root, "runc")


@contextlib.contextmanager
def bundle_directory(run_root: str) -> Iterator[str]:
    """A fresh OCI bundle directory in the run root, named for this process; removed afterwards."""
    owner = f"{os.getpid()}-{_start_time(os.getpid())}"
    bundle = os.path.join(run_root, "bundles", f"{BUNDLE_PREFIX}{owner}-{os.urandom(8).hex()}")
    os.makedirs(bundle, mode=0o700)
    try:
        yield bundle
    finally:
        shutil.rmtree(bundle, ignore_errors=True)


def _kill(runc_root: str, container_id: str) -> None:
    """SIGKILL the container's init (and so its whole PID namespace), if runc has made it yet."""
    with contextlib.suppress(ToolFailed):
        run_tool("runc", "--root", runc_root, "kill", container_id, "KILL")


def _delete(runc_root: str, container_id: str) -> None:
    """Delete runc's state of the container, killing what still runs in it."""
    if os.path.exists(os.path.join(runc_root, container_id)):
        with contextlib.suppress(ToolFailed):
            run_tool("runc", "--root", runc_root, "delete", "--force", container_id)


def run_bundle(
    run_root: str, bundle: str, spec: dict[str, Any], discard_output: bool = False
) -> int:
    """Run `spec` from `bundle` with runc, on our stdio (or /dev/null); return the exit status.

    When bb is interrupted meanwhile, the container is killed (a PID 1 may ignore SIGTERM and
    SIGINT, which runc forwards) before bb unwinds.
    """
    runc_root = _runc_root(run_root)
    container_id = os.path.basename(bundle)
    with open(os.path.join(bundle, "config.json"), "w", encoding="utf-8") as config:
        json.dump(spec, config)
    try:
        return run_tool_foreground(
            "runc",
            "--root",
            runc_root,
            "run",
            "--bundle",
            bundle,
            container_id,
            discard_output=discard_output,
            stop=lambda: _kill(runc_root, container_id),
        )
    finally:
        # `runc run` deletes its container when the process exits; one is left only when runc
        # itself was killed, so only then is runc run again (that costs ~15 ms, a tenth of a
        # short `bb run`).
        _delete(runc_root, container_id)


def _owner_alive(bundle_name: str) -> bool:
    """Whether the bb process a bundle is named for (`bb-<pid>-<start time>-...`) still runs."""
    pid, _, rest = bundle_name[len(BUNDLE_PREFIX) :].partition("-")
    start_time = rest.partition("-")[0]
    return pid.isdigit() and _start_time(int(pid)) == start_time


def reap_abandoned(run_root: str) -> None:
    """Kill and delete the steps of bb processes that died running them; remove their bundles."""
    bundles = os.path.join(run_root, "bundles")
    try:
        names = os.listdir(bundles)
    except FileNotFoundError:
        return
    runc_root = _runc_root(run_root)
    for name in names:
        if not name.startswith(BUNDLE_PREFIX) or _owner_alive(name):
            continue
        _delete(runc_root, name)
        shutil.rmtree(os.path.join(bundles, name), ignore_errors=True)
