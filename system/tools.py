"""Run external programs (runc, dmsetup, mkfs, ...), with typed errors and no terminal needed."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable

from bb.errors import ToolFailed, ToolMissing

# Which Debian package provides a tool, so "not found" can say what to install.
PACKAGE_OF_TOOL = {
    "runc": "the Debian package runc",
    "losetup": "the Debian package mount",
    "blkid": "the Debian package util-linux",
    "blkdiscard": "the Debian package util-linux",
    "dmsetup": "the Debian package dmsetup",
    "lvm": "the Debian package lvm2",
    "thin_check": "the Debian package thin-provisioning-tools",
    "thin_ls": "the Debian package thin-provisioning-tools",
    "mkfs.ext4": "the Debian package e2fsprogs",
    "tune2fs": "the Debian package e2fsprogs",
    "mkfs.xfs": "the Debian package xfsprogs",
    "cp": "the Debian package coreutils",
    "truncate": "the Debian package coreutils",
    "isula": "iSulad (isula client)",
    "git": "the Debian package git",
}

# How long an interrupted foreground tool is asked to stop before it is killed, in seconds.
STOP_PATIENCE = 10.0


def _path(tool: str) -> str:
    """Where `tool` is on PATH; ToolMissing names its package when it is not there."""
    path = shutil.which(tool)
    if path is None:
        raise ToolMissing(tool, PACKAGE_OF_TOOL.get(tool))
    return path


ToolLog = Callable[[list[str], str, str], None]


def run_tool(
    tool: str,
    *args: str,
    cwd: str | None = None,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    log: ToolLog | None = None,
) -> str:
    """Run `tool args...` (killed after `timeout` seconds), return its stdout; raise ToolFailed
    with its stderr on failure.

    `log`, if given, is called with (argv, stdout, stderr) of a run that succeeded."""
    path = _path(tool)
    # imported here because it is slow to import
    import sh

    try:
        # No pseudo-terminal (sh's default for stdout), and no closing of inherited fds (sh lists
        # /dev/fd for that): bb runs where /dev/pts is not mounted and /dev/fd does not exist.
        # Python opens every file non-inheritable (PEP 446), so there is nothing to close.
        output = sh.Command(path)(
            *args,
            _cwd=cwd,
            _in=input,
            _env=env,
            _timeout=timeout,
            _tty_out=False,
            _close_fds=False,
            _truncate_exc=False,
        )
    except sh.ErrorReturnCode as failure:
        stderr = failure.stderr.decode(errors="replace") or failure.stdout.decode(errors="replace")
        raise ToolFailed([tool, *args], failure.exit_code, stderr) from None
    except sh.TimeoutException:
        raise ToolFailed([tool, *args], 124, f"killed after {timeout} seconds") from None
    if log is not None:
        log([tool, *args], str(output), output.stderr.decode(errors="replace"))
    return str(output)


def run_tool_foreground(
    tool: str,
    *args: str,
    cwd: str | None = None,
    discard_output: bool = False,
    stop: Callable[[], None] | None = None,
) -> int:
    """Run `tool args...` attached to our stdio (or /dev/null if asked); return its status.

    Should bb be interrupted (Interrupted, KeyboardInterrupt) while it waits, `stop` is called
    until the tool has exited (after STOP_PATIENCE seconds the tool is killed), then bb unwinds.
    """
    devnull = subprocess.DEVNULL if discard_output else None
    # subprocess, not sh: the tool gets bb's own stdio (a terminal for `bb run -t`, where sh's
    # background mode would pipe stdin through a thread) and bb must be able to stop it and wait
    process = subprocess.Popen(
        [_path(tool), *args], cwd=cwd, stdin=devnull, stdout=devnull, stderr=devnull
    )
    try:
        status = process.wait()
    except BaseException:
        _stop(process, stop)
        raise
    # a process killed by signal N is reported as -N; shells say 128 + N
    return status if status >= 0 else 128 - status


def _stop(process: subprocess.Popen[bytes], stop: Callable[[], None] | None) -> None:
    """Make `process` exit: `stop` it repeatedly (it may not be ready yet), at last kill it."""
    deadline = time.monotonic() + STOP_PATIENCE
    while time.monotonic() < deadline:
        if stop is not None:
            stop()
        try:
            process.wait(timeout=0.1)
            return
        except subprocess.TimeoutExpired:
            continue
    process.kill()
    process.wait()
