"""bb on the devicemapper driver, through the real CLI, on a kernel with dm-thin.

These run inside scripts/vm/run-in-vm (tests/vm/test_devicemapper.py starts
them); elsewhere they are skipped. Every CLI call is slow under emulation,
so one store per configuration is shared by the tests of this module.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from testbed import BUSYBOX_EXAMPLE, DRIVER_CORPUS, REPO, TIMESTAMP, bud_case

CORPUS = DRIVER_CORPUS


def _dm_available() -> bool:
    return (
        os.path.exists("/dev/mapper/control")
        and "thin-pool"
        in subprocess.run(["dmsetup", "targets"], capture_output=True, text=True).stdout
    )


pytestmark = pytest.mark.skipif(
    not _dm_available(), reason="needs device-mapper (run via tests/vm/test_devicemapper.py)"
)


class Store:
    """A bb store with its own config file, used through the CLI."""

    def __init__(self, base: Path, driver: str, options: dict[str, str]):
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        config = base / "storage.toml"
        lines = [
            f'[storage]\ndriver = "{driver}"\n',
            f'graphroot = "{base / "root"}"\nrunroot = "{base / "run"}"\n',
            "[storage.options]\n",
        ] + [f'"{key}" = "{value}"\n' for key, value in options.items()]
        config.write_text("".join(lines))
        self.env = {**os.environ, "BB_CONFIG": str(config), "SOURCE_DATE_EPOCH": TIMESTAMP}
        for name in ("BB_ROOT", "BB_RUNROOT", "BB_STORAGE_DRIVER"):
            self.env.pop(name, None)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["bb", *args], env=self.env, capture_output=True, text=True, cwd=self.base
        )
        if check and result.returncode:
            raise AssertionError(f"bb {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result

    def __call__(self, *args: str) -> str:
        return self.run(*args).stdout.strip()

    def status(self) -> dict[str, str]:
        return json.loads(self("info"))["store"]["GraphStatus"]

    def build_busybox(self) -> None:
        result = subprocess.run(
            ["sh", str(BUSYBOX_EXAMPLE)],
            env=self.env,
            capture_output=True,
            text=True,
            cwd=self.base,
        )
        assert result.returncode == 0, result.stderr

    def build_case(self, name: str) -> str:
        case = bud_case(name)
        return self(
            "build", "-q", "--timestamp", TIMESTAMP, *case.arguments, str(case.context)
        ).split()[-1]


def data_used(store: Store) -> float:
    text = store.status()["Data Space Used"]
    number, unit = text.split()
    return float(number) * {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[unit]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Image IDs of the corpus built on overlay, the reference every devicemapper store must match.

    tests/vm/test_devicemapper.py builds them on the host (fast) and passes them in
    BB_TEST_OVERLAY_IDS.
    """
    if os.environ.get("BB_TEST_OVERLAY_IDS"):
        return json.loads(os.environ["BB_TEST_OVERLAY_IDS"])
    return overlay_reference(tmp_path_factory.mktemp("overlay"))


def overlay_reference(base: Path) -> dict[str, str]:
    """Build the corpus on an overlay store at `base`."""
    store = Store(base, "overlay", {})
    store.build_busybox()
    return {case: store.build_case(case) for case in CORPUS}


@pytest.fixture(scope="module")
def loop_ext4(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A loop-lvm ext4 store holding busybox."""
    store = Store(
        tmp_path_factory.mktemp("dm-loop-ext4"),
        "devicemapper",
        {"dm.loopdatasize": "6G", "dm.basesize": "2G", "dm.fs": "ext4"},
    )
    store.build_busybox()
    return store


def test_corpus_matches_overlay_on_loop_ext4(loop_ext4, reference):
    # part of the corpus: all of it runs on direct-lvm (ext4 and xfs, tests/devicemapper/
    # test_direct_lvm.py), whose pool differs from loop-lvm's only in what backs it
    for case in ("instructions", "multistage", "heredocs", "copy-owners"):
        assert loop_ext4.build_case(case) == reference[case], case


def test_corpus_matches_overlay_on_thinpooldev_xfs(tmp_path_factory, thin_pool_factory, reference):
    pool = thin_pool_factory(f"bbcli-xfs-{os.getpid()}")
    store = Store(
        tmp_path_factory.mktemp("dm-pool-xfs"),
        "devicemapper",
        {"dm.thinpooldev": pool, "dm.basesize": "2G", "dm.fs": "xfs"},
    )
    store.build_busybox()
    for case in ("instructions", "heredocs"):
        assert store.build_case(case) == reference[case], case
    assert store.status()["Backing Filesystem"] == "xfs"
    assert store.status()["Pool Name"] == pool


def test_steps_info_and_space(loop_ext4, tmp_path):
    store = loop_ext4
    status = store.status()
    for row in (
        "Pool Name",
        "Pool Blocksize",
        "Base Device Size",
        "Backing Filesystem",
        "Data file",
        "Metadata file",
        "Data Space Used",
        "Data Space Total",
        "Data Space Available",
        "Metadata Space Used",
        "Metadata Space Total",
        "Metadata Space Available",
        "Thin Pool Minimum Free Space",
        "Deferred Removal Enabled",
        "Warning",
    ):
        assert row in status, row
    before = data_used(store)
    (tmp_path / "payload").write_bytes(os.urandom(1 << 20))
    ctr = store("from", "busybox")
    store("copy", ctr, str(tmp_path / "payload"), "/payload")
    store("config", "--env", "ON=dm", ctr)
    # random, not zeros: layers are unpacked sparsely, so zeros would take no pool space
    store(
        "run",
        ctr,
        "--",
        "sh",
        "-c",
        "dd if=/dev/urandom of=/big bs=1M count=64 2>/dev/null; echo $ON > /on",
    )
    image = store("commit", "--rm", ctr, "dm-image")
    check = store("from", "dm-image")
    assert store(
        "run", check, "--", "sh", "-c", "cat /on; stat -c %s /big /payload"
    ).splitlines() == ["dm", str(64 << 20), str(1 << 20)]
    assert "lost+found" not in store("run", check, "--", "ls", "/")
    assert data_used(store) > before + 50e6
    store("rm", check)
    store("rmi", image)
    # deleting the thin devices gives their blocks back to the pool
    assert data_used(store) < before + 10e6


def test_from_large_image_is_constant_time(loop_ext4):
    store = loop_ext4
    ctr = store("from", "busybox")
    store("run", ctr, "--", "sh", "-c", "dd if=/dev/zero of=/large bs=1M count=500 2>/dev/null")
    store("commit", "--rm", ctr, "large")
    timings = {}
    for image in ("busybox", "large", "busybox", "large"):
        start = time.monotonic()
        created = store("from", image)
        timings.setdefault(image, []).append(time.monotonic() - start)
        store("rm", created)
    # a thin snapshot costs the same whatever the image holds (no copy of 500 MB)
    assert min(timings["large"]) < min(timings["busybox"]) * 1.5 + 1.0, timings
    store("rmi", "large")


def test_kill_during_commit_leaves_no_orphan_devices(loop_ext4):
    store = loop_ext4
    baseline_used = data_used(store)
    ctr = store("from", "busybox")
    store("run", ctr, "--", "sh", "-c", "dd if=/dev/zero of=/big bs=1M count=64 2>/dev/null")
    for delay in (5.0, 8.0, 11.0):
        process = subprocess.Popen(
            ["bb", "commit", ctr, "killed"],
            env=store.env,
            cwd=store.base,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        store("containers")
        store("images")
    store("rm", ctr)
    store.run("rmi", "killed", check=False)
    store("rmi", "--prune")
    # every thin device belongs to a layer the store knows: none was orphaned
    layer_records = [
        name for name in os.listdir(store.base / "root" / "layers") if name.endswith(".json")
    ]
    assert int(store.status()["Number of Devices"]) == len(layer_records)
    assert data_used(store) < baseline_used + 20e6
    assert not [
        name
        for name in subprocess.run(["dmsetup", "ls"], capture_output=True, text=True).stdout.split()
        if name.endswith("-killed")
    ]


def test_multiarch_example_on_devicemapper(loop_ext4):
    """amd64 and arm64 from one Dockerfile into one list, the arm64 RUN through qemu-user (the
    guest kernel gets the binfmt_misc handler here; the arm64 busybox is the host's cached one,
    which tests/vm/test_devicemapper.py fetches before booting)."""
    scripts = REPO / "scripts"
    subprocess.run([str(scripts / "register-qemu-binfmt.sh"), "aarch64"], check=True)
    arm64 = subprocess.run(
        [str(scripts / "foreign-busybox.sh"), "arm64"], check=True, capture_output=True, text=True
    ).stdout.strip()
    result = subprocess.run(
        ["sh", str(scripts / "examples" / "multiarch.sh"), "hello:multi"],
        env={**loop_ext4.env, "BUSYBOX_ARM64": arm64},
        capture_output=True,
        text=True,
        cwd=loop_ext4.base,
    )
    assert result.returncode == 0, result.stderr
    assert "aarch64\nbuilt for linux/arm64 on linux/amd64\n" in result.stdout


def test_min_free_space_refuses_new_devices(tmp_path_factory):
    store = Store(
        tmp_path_factory.mktemp("dm-small"),
        "devicemapper",
        {"dm.loopdatasize": "600M", "dm.basesize": "1G", "dm.min_free_space": "40%"},
    )
    ctr = store("from", "scratch")
    store("copy", "--chmod", "755", ctr, "/bin/busybox", "/busybox")
    store(
        "run",
        ctr,
        "--",
        "/busybox",
        "sh",
        "-c",
        "/busybox dd if=/dev/zero of=/fill bs=1M count=420 2>/dev/null",
    )
    refused = store.run("from", "scratch", check=False)
    assert refused.returncode == 125
    assert "dm.min_free_space=40%" in refused.stderr and "free data blocks" in refused.stderr
    # the store stays usable: removing the container frees the pool, and new containers work again
    store("rm", ctr)
    assert store("from", "scratch") == "working-container"
