"""The devicemapper driver tested for real: the shared driver suite and bb's CLI, in a dm-thin VM.

This kernel has no device-mapper, so one scripts/vm/run-in-vm boot runs the
devicemapper selection of the suite in a guest kernel that has it. To add a
selection, add its path to GUEST_SELECTION.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
from devicemapper.test_devicemapper_cli import overlay_reference

from testbed import REPO, RUN_IN_VM

pytestmark = [
    pytest.mark.vm,
    pytest.mark.skipif(os.geteuid() != 0, reason="run-in-vm needs root"),
    pytest.mark.skipif(platform.machine() != "x86_64", reason="run-in-vm boots an amd64 kernel"),
]

# What runs in the guest: the shared driver suite (every devicemapper configuration),
# the CLI tests on devicemapper (steps, build corpus, space, crashes), and the step
# confinement tests, since the guest has cgroup v2 where this host has v1.
CONFINEMENT = "tests/hardening/test_confinement.py"
GUEST_SELECTION = [
    "tests/drivers",
    "tests/devicemapper",
    f"{CONFINEMENT}::test_a_step_cannot_read_a_host_block_device",
    f"{CONFINEMENT}::test_a_build_step_cannot_read_a_host_block_device",
    f"{CONFINEMENT}::test_cgroups_are_private_and_read_only",
    f"{CONFINEMENT}::test_network_none_has_only_loopback",
    # a build secret is in no layer, record or cache entry on devicemapper either
    "tests/functional/test_build.py::test_secrets_reach_the_step_and_nothing_else",
]


def guest_import_path(base: Path) -> Path:
    """A directory whose `bb` is this tree, to put first on the guest's PYTHONPATH.

    Otherwise the guest would import the installed bb, which may be another checkout's (the
    host's PYTHONPATH, if it names one under /tmp, does not reach the guest).
    """
    path = base / "import-path"
    path.mkdir()
    (path / "bb").symlink_to(REPO)
    return path


# Run first in the guest: where its bb comes from (the test checks it is this tree).
WHICH_BB = "import os, bb; print('bb:', os.path.realpath(os.path.dirname(bb.__file__)))"


def test_devicemapper_in_vm(tmp_path):
    # the corpus's image IDs on overlay, built here on the host where it is fast
    reference = json.dumps(overlay_reference(tmp_path / "overlay"))
    # the multi-arch case's arm64 busybox, cached on the host root the guest sees read-only
    subprocess.run(
        [str(REPO / "scripts" / "foreign-busybox.sh"), "arm64"], check=True, capture_output=True
    )
    pytest_in_venv = Path(sys.executable).with_name("pytest")
    import_path = guest_import_path(tmp_path)
    pythonpath = ":".join(
        p for p in [str(import_path), *os.environ.get("PYTHONPATH", "").split(":")] if p
    )
    command = [
        sys.executable,
        str(RUN_IN_VM),
        "--timeout",
        # ~34 min on 2 idle cores (2026-12-03); the margin is for a busy machine (TCG is CPU-bound)
        "3300",
        # the guest's /tmp is RAM and holds the loop-lvm pools' files: at the default 4 GiB it
        # filled (qemu resident 3.8 GiB) and the guest hung in soft lockups (min_free_space test)
        "--mem",
        "8192",
        "--cwd",
        str(REPO),
        "--show",
        str(import_path),
        # the spare disks of tests/devicemapper/test_direct_lvm.py (/dev/vda, /dev/vdb)
        "--disk",
        "2G",
        "--disk",
        "2G",
        "--env",
        f"PYTHONPATH={pythonpath}",
        "--env",
        "BB_TEST_DRIVERS=devicemapper",
        "--env",
        f"BB_TEST_OVERLAY_IDS={reference}",
        "--",
        "sh",
        "-c",
        '"$0" -c "$1" && shift && exec "$@"',
        sys.executable,
        WHICH_BB,
        str(pytest_in_venv),
        "-q",
        "-p",
        "no:cacheprovider",
        "-rs",
        "--durations=12",
        # each test's tmp_path is removed when it ends: it is guest RAM
        "-o",
        "tmp_path_retention_policy=none",
        *GUEST_SELECTION,
    ]
    result = subprocess.run(
        command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=3500
    )
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0, (
        f"exit {result.returncode}\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    )
    assert lines[:1] == [f"bb: {REPO}"], f"the guest ran another bb:\n{result.stdout[:500]}"
    summary = lines[-1:] or [""]
    assert " passed" in summary[0] and "skipped" not in summary[0], result.stdout[-3000:]
