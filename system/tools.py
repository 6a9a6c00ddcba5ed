"""Run external programs (runc, dmsetup, mkfs, ...) through `sh`, with typed errors."""

from __future__ import annotations

import os
import shutil
from typing import Any

from bb.errors import ToolFailed, ToolMissing

# Which Debian package provides a tool, so "not found" can say what to install.
PACKAGE_OF_TOOL = {
    "runc": "the Debian package runc",
    "losetup": "the Debian package mount",
    "blkid": "the Debian package util-linux",
    "blkdiscard": "the Debian package util-linux",
    "dmsetup": "the Debian package dmsetup",
    "thin_check": "the Debian package thin-provisioning-tools",
    "thin_ls": "the Debian package thin-provisioning-tools",
    "mkfs.ext4": "the Debian package e2fsprogs",
    "tune2fs": "the Debian package e2fsprogs",
    "mkfs.xfs": "the Debian package xfsprogs",
    "cp": "the Debian package coreutils",
    "truncate": "the Debian package coreutils",
    "isula": "iSulad (isula client)",
}


def _command(tool: str) -> Any:
    """Find `tool` on PATH as an `sh.Command`; `sh` is imported here because it is slow to import."""
    if shutil.which(tool) is None:
        raise ToolMissing(tool, PACKAGE_OF_TOOL.get(tool))
    import sh

    return sh.Command(tool)


def run_tool(tool: str, *args: str, cwd: str | None = None, input: str | None = None) -> str:
    """Run `tool args...`, return its stdout; raise ToolFailed with its stderr on failure."""
    command = _command(tool)
    import sh

    try:
        return str(command(*args, _cwd=cwd, _in=input, _truncate_exc=False))
    except sh.ErrorReturnCode as failure:
        stderr = failure.stderr.decode(errors="replace") or failure.stdout.decode(errors="replace")
        raise ToolFailed([tool, *args], failure.exit_code, stderr) from None


def run_tool_foreground(tool: str, *args: str, cwd: str | None = None, discard_output: bool = False) -> int:
    """Run `tool args...` attached to our stdin/stdout/stderr (output to /dev/null if asked); return its status."""
    command = _command(tool)
    import sh

    try:
        if discard_output:
            command(*args, _cwd=cwd, _out=os.devnull, _err=os.devnull, _in=None)
        else:
            command(*args, _cwd=cwd, _fg=True)
    except sh.ErrorReturnCode as failure:
        # a process killed by signal N is reported as -N; shells say 128 + N
        return failure.exit_code if failure.exit_code > 0 else 128 - failure.exit_code
    return 0
