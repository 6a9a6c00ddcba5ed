"""Step commands load only what they need (issue 19: start-up under 60 ms).

Not a timed test: the time of a start-up is mostly the modules it imports, so this checks,
through Python's own import log, that the quick verbs import none of the heavy modules that
only the network, archive and build verbs need.
"""

from __future__ import annotations

import subprocess

import pytest

# modules a listing or a config change has no use for, each costing milliseconds at start-up
HEAVY = {
    "importlib.metadata",  # tabulate 0.10 reads its version through it (with email, zipfile)
    "email",
    "ssl",
    "http",
    "urllib.request",
    "asyncio",
    "tarfile",
    "hashlib",
    "isal",
    "zstandard",
    "sh",
    "concurrent",
}


def imported(bb, *args: str) -> set[str]:
    """The top-level module names (and dotted ones) `bb args...` imports."""
    result = subprocess.run(
        [bb.executable, *args],
        env={**bb.env(), "PYTHONPROFILEIMPORTTIME": "1"},
        cwd=bb.cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            names.add(name)
            names.add(name.split(".", 1)[0])
    assert "bb.cmd.main" in names, result.stderr[-2000:]
    return names


@pytest.mark.parametrize(
    "verb",
    [["config", "--env", "A=1"], ["containers"], ["images"], ["inspect"], ["mount"], ["umount"]],
    ids=lambda verb: verb[0],
)
def test_step_commands_import_nothing_heavy(bb, verb):
    ctr = bb("from", "busybox")
    if verb[0] == "umount":
        bb("mount", ctr)
    args = [*verb, ctr] if verb[0] in {"config", "inspect", "mount", "umount"} else verb
    assert not imported(bb, *args) & HEAVY
    if verb[0] == "mount":
        bb("umount", ctr)
