#!/usr/bin/env python3
"""devicemapper against overlay on one virtual disk: time and bytes written per step.

Needs a kernel with dm-thin and an empty disk, so run it through the VM:

    scripts/vm/run-in-vm --timeout 5400 --disk 24G --out scripts/bench -- \\
        python3 scripts/bench/devicemapper.py [DISK]

DISK (default /dev/vda) is split with dm-linear in two: an ext4 file system that holds both
stores' records and overlay's layers, and the rest, on which bb sets up direct-lvm. Bytes
written are the disk's own count (/sys/block/DISK/stat), so both drivers are measured on the
same device. Each case starts and ends with a sync, so every step pays for its own writes.
Writes scripts/bench/DEVICEMAPPER.md. Inside the VM everything runs under software emulation
(TCG), so the ratios mean more than the seconds.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts" / "bench"))
from compare import BB, machine, sh  # noqa: E402

RUNS = int(os.environ.get("BB_BENCH_RUNS", "3"))
FS_SECTORS = 14 * 2**30 // 512  # the file system's part of the disk; direct-lvm gets the rest
BIG = "/big"  # the base image's 1 GiB file
CASES = (
    "`bb from` of the image",
    "RUN `true` (what any step costs)",
    "RUN changing 4 KiB in place (`dd conv=notrunc,fsync`)",
    "the change alone, timed inside that RUN",
    "commit after it",
    "RUN appending 4 KiB (`dd oflag=append conv=notrunc,fsync`)",
    "the append alone, timed inside that RUN",
    "commit after it",
    "build copying 2,000 small files",
)
# A step's own timing of its change, in seconds of /proc/uptime (the container's clock).
TIMED_INSIDE = 'read a _ < /proc/uptime; {} 2>/dev/null; read b _ < /proc/uptime; echo "$a $b"'


def split_disk(disk: str) -> tuple[str, str]:
    """Two dm-linear devices over DISK: (file system part, direct-lvm part)."""
    name = os.path.basename(disk)
    sectors = int(Path(f"/sys/block/{name}/size").read_text())
    if sectors < FS_SECTORS + 10 * 2**30 // 512:  # the pool: 4 GiB base device, the images
        sys.exit(
            f"{disk}: {sectors * 512 / 2**30:.0f} GiB; the bench needs 24 (run-in-vm --disk 24G)"
        )
    env = {**os.environ, "DM_DISABLE_UDEV": "1"}  # the VM has no udev: dmsetup makes the nodes
    tables = {
        "bench-fs": f"0 {FS_SECTORS} linear {disk} 0",
        "bench-lvm": f"0 {sectors - FS_SECTORS} linear {disk} {FS_SECTORS}",
    }
    for device, table in tables.items():
        subprocess.run(["dmsetup", "create", device, "--table", table], env=env, check=True)
    return "/dev/mapper/bench-fs", "/dev/mapper/bench-lvm"


def store(base: Path, driver: str, options: dict[str, str]) -> dict[str, str]:
    """A store holding busybox and `big`, busybox with a 1 GiB random file."""
    base.mkdir(parents=True)
    config = base / "storage.toml"
    config.write_text(
        f'[storage]\ndriver = "{driver}"\n'
        f'graphroot = "{base / "root"}"\nrunroot = "/run/bench-{driver}"\n'
        "[storage.options]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in options.items())
    )
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "BB_CONFIG": str(config),
    }
    sh("sh", str(REPO / "scripts" / "examples" / "busybox.sh"), env=env)
    ctr = sh(BB, "from", "busybox", env=env).stdout.strip()
    sh(BB, "run", ctr, "--", "dd", "if=/dev/urandom", f"of={BIG}", "bs=1M", "count=1024", env=env)
    sh(BB, "commit", "--rm", ctr, "big", env=env)
    return env


class Disk:
    """Seconds and bytes written to one disk, per command."""

    def __init__(self, disk: str):
        self.stat = Path(f"/sys/block/{os.path.basename(disk)}/stat")

    def sectors_written(self) -> int:
        return int(self.stat.read_text().split()[6])

    def measure(self, *args: str, env: dict[str, str]) -> tuple[float, int, str]:
        """(seconds, bytes written, stdout) of a command, its writes synced."""
        os.sync()
        before = self.sectors_written()
        start = time.monotonic()
        out = sh(*args, env=env).stdout.strip()
        os.sync()
        seconds = time.monotonic() - start
        return seconds, (self.sectors_written() - before) * 512, out


def small_files(work: Path) -> Path:
    context = work / "small-files"
    (context / "tree").mkdir(parents=True)
    for number in range(2000):
        (context / "tree" / f"f{number}").write_text(f"{number}\n")
    (context / "Dockerfile").write_text(
        "FROM busybox\nCOPY tree /tree\nRUN find /tree -type f | wc -l > /count\n"
    )
    return context


def one_run(disk: Disk, env: dict[str, str], context: Path) -> list[tuple[float, int | None]]:
    """Each case once, in CASES' order; the store is as before afterwards."""
    samples: list[tuple[float, int | None]] = []

    def step(*args: str) -> str:
        seconds, written, out = disk.measure(BB, *args, env=env)
        samples.append((seconds, written))
        return out

    def timed_inside(ctr: str, command: str) -> None:
        start, end = step("run", ctr, "--", "sh", "-c", TIMED_INSIDE.format(command)).split()
        samples.append((float(end) - float(start), None))

    ctr = step("from", "big")
    step("run", ctr, "--", "true")
    big = f"dd if=/dev/urandom of={BIG} bs=4k count=1"
    timed_inside(ctr, f"{big} seek=1000 conv=notrunc,fsync")
    step("commit", "--rm", ctr, "in-place")
    # a container of its own: in the first, overlay has already copied the file up
    ctr = sh(BB, "from", "big", env=env).stdout.strip()
    timed_inside(ctr, f"{big} oflag=append conv=notrunc,fsync")
    step("commit", "--rm", ctr, "appended")
    step("build", "-q", "-t", "small", str(context))
    sh(BB, "rmi", "in-place", "appended", "small", env=env)
    return samples


def report(results: dict[str, list[list[tuple[float, int | None]]]], disk_bytes: int) -> str:
    lines = [
        "# devicemapper against overlay",
        "",
        (
            f"Machine: {machine()} (inside scripts/vm/run-in-vm: TCG emulation). One "
            f"{disk_bytes / 2**30:.0f} GiB virtual disk: ext4 on its first "
            f"{FS_SECTORS * 512 / 2**30:.0f} GiB (both stores' records, overlay's layers), "
            "direct-lvm (`dm.directlvm_device`) on the rest. The image `big` is busybox with "
            f"a 1 GiB random file. Median of {RUNS} alternating runs; seconds and MB written to "
            "the disk (synced before and after each case)."
        ),
        "",
        "| case | overlay s | devicemapper s | overlay ÷ devicemapper "
        "| overlay MB written | devicemapper MB written |",
        "|---|---|---|---|---|---|",
    ]
    for number, case in enumerate(CASES):
        medians = {
            driver: [statistics.median(run[number][field] or 0 for run in runs) for field in (0, 1)]
            for driver, runs in results.items()
        }
        seconds = (medians["overlay"][0], medians["devicemapper"][0])
        written = (medians["overlay"][1], medians["devicemapper"][1])
        megabytes = (
            f"{written[0] / 1e6:.1f} | {written[1] / 1e6:.1f}"
            if results["overlay"][0][number][1] is not None
            else "(in the RUN's) | (in the RUN's)"
        )
        # /proc/uptime counts hundredths: a change timed at 0 took less than that
        ratio = (
            f"{seconds[0] / seconds[1]:.1f}" if seconds[1] >= 0.01 else f"> {seconds[0] / 0.01:.0f}"
        )
        lines.append(f"| {case} | {seconds[0]:.2f} | {seconds[1]:.2f} | {ratio} | {megabytes} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    device = sys.argv[1] if len(sys.argv) > 1 else "/dev/vda"
    if os.environ.get("BB_IN_VM") != "1":
        sys.exit(f"{sys.argv[0]}: wipes {device}; run it in the VM (scripts/vm/run-in-vm)")
    fs_part, lvm_part = split_disk(device)
    sh("mkfs.ext4", "-q", fs_part)
    mountpoint = Path(tempfile.mkdtemp(prefix="bb-dm-bench-"))
    sh("mount", fs_part, str(mountpoint))
    stores = {
        "overlay": store(mountpoint / "overlay", "overlay", {}),
        "devicemapper": store(
            mountpoint / "dm",
            "devicemapper",
            {"dm.directlvm_device": lvm_part, "dm.basesize": "4G"},
        ),
    }
    context = small_files(mountpoint)
    disk = Disk(device)
    results: dict[str, list[list[tuple[float, int | None]]]] = {driver: [] for driver in stores}
    for run in range(RUNS):
        # alternate which driver goes first, so neither always follows the other's work
        order = list(stores) if run % 2 == 0 else list(reversed(stores))
        for driver in order:
            samples = one_run(disk, stores[driver], context)
            results[driver].append(samples)
            for case, (seconds, written) in zip(CASES, samples):
                shown = "" if written is None else f", {written / 1e6:.1f} MB"
                print(f"{driver}: {case}: {seconds:.2f} s{shown}", flush=True)
    disk_bytes = int(Path(f"/sys/block/{os.path.basename(device)}/size").read_text()) * 512
    text = report(results, disk_bytes)
    (REPO / "scripts" / "bench" / "DEVICEMAPPER.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
