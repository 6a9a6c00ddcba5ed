"""bb where /dev/pts is not mounted and /dev/fd does not exist (CI containers, systemd services
with PrivateDevices=): a /dev holding only null, zero, random, urandom and tty, in a private
mount namespace; and one clear Error line where bb cannot run at all."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

# a fresh /dev with five nodes: no pts, no ptmx, no fd symlink
MINIMAL_DEV = """set -e
mount -t tmpfs -o mode=0755 tmpfs /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/zero c 1 5
mknod -m 666 /dev/random c 1 8
mknod -m 666 /dev/urandom c 1 9
mknod -m 666 /dev/tty c 5 0
test ! -e /dev/fd && test ! -e /dev/pts
"""


def in_minimal_dev(bb, script: str) -> subprocess.CompletedProcess[str]:
    """Run a shell script (with $BB the bb command) where /dev is minimal; the host's /dev is
    untouched."""
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", MINIMAL_DEV + script],
        env={**bb.env(), "BB": bb.executable},
        cwd=bb.cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_steps_and_build_without_pts_or_dev_fd(bb, tmp_path: Path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nCOPY hello /hello\nRUN cat /hello > /copy\n")
    (context / "hello").write_text("hello\n")
    script = f"""
ctr=$("$BB" from busybox)
"$BB" run "$ctr" -- sh -c 'echo step > /step'
"$BB" commit --rm "$ctr" minimal-steps
"$BB" build -t minimal-build {shlex.quote(str(context))}
"""
    result = in_minimal_dev(bb, script)
    assert result.returncode == 0, result.stderr
    check = bb("from", "minimal-build")
    assert bb("run", check, "--", "cat", "/copy") == "hello"
    assert bb("run", bb("from", "minimal-steps"), "--", "cat", "/step") == "step"


def test_missing_runc_is_one_clear_error(bb, tmp_path: Path):
    ctr = bb("from", "busybox")
    empty = tmp_path / "empty-path"
    empty.mkdir()
    result = subprocess.run(
        [bb.executable, "run", ctr, "--", "true"],
        env={**bb.env(), "PATH": str(empty)},
        cwd=bb.cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 125
    assert result.stderr.strip().splitlines() == [
        "Error: runc: command not found (install the Debian package runc)"
    ]
    assert list((bb.runroot / "bundles").iterdir()) == []
