#!/usr/bin/env python3
"""Build and commit times on devicemapper against overlay: a small-files and a big-file Dockerfile.

Needs a kernel with dm-thin, so run it through the VM:

    scripts/vm/run-in-vm --timeout 3600 --out scripts/bench -- python3 scripts/bench/devicemapper.py

Writes scripts/bench/DEVICEMAPPER.md. Inside the VM everything runs under
software emulation (TCG), so only the ratios between drivers mean much.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts" / "bench"))
from compare import BB, machine, sh  # noqa: E402

RUNS = int(os.environ.get("BB_BENCH_RUNS", "3"))


def store(base: Path, driver: str, options: dict[str, str]) -> dict[str, str]:
    base.mkdir(parents=True)
    config = base / "storage.toml"
    config.write_text(
        f'[storage]\ndriver = "{driver}"\n'
        f'graphroot = "{base / "root"}"\nrunroot = "{base / "run"}"\n'
        "[storage.options]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in options.items())
    )
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "BB_CONFIG": str(config),
    }
    sh("sh", str(REPO / "scripts" / "examples" / "busybox.sh"), env=env)
    return env


def contexts(work: Path) -> dict[str, Path]:
    small = work / "small-files"
    (small / "tree").mkdir(parents=True)
    for number in range(2000):
        (small / "tree" / f"f{number}").write_text(f"{number}\n")
    (small / "Dockerfile").write_text(
        "FROM busybox\nCOPY tree /tree\nRUN find /tree -type f | wc -l > /count\n"
    )
    big = work / "big-file"
    big.mkdir()
    (big / "Dockerfile").write_text(
        "FROM busybox\nRUN dd if=/dev/zero of=/big bs=1M count=256 2>/dev/null\n"
    )
    return {"2,000 small files": small, "one 256 MiB file": big}


def measure(env: dict[str, str], context: Path) -> tuple[float, float]:
    """(whole build, its commit alone) in seconds."""
    start = time.monotonic()
    sh(BB, "build", "-q", str(context), env=env)
    build = time.monotonic() - start
    ctr = sh(BB, "from", "busybox", env=env).stdout.strip()
    sh(BB, "copy", ctr, str(context), "/ctx", env=env)
    sh(
        BB,
        "run",
        ctr,
        "--",
        "sh",
        "-c",
        "test -f /ctx/Dockerfile; dd if=/dev/zero of=/big bs=1M count=64 2>/dev/null",
        env=env,
    )
    start = time.monotonic()
    sh(BB, "commit", "--rm", ctr, env=env)
    return build, time.monotonic() - start


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bb-dm-bench-") as directory:
        work = Path(directory)
        stores = {
            "overlay": store(work / "overlay", "overlay", {}),
            "devicemapper": store(
                work / "dm", "devicemapper", {"dm.loopdatasize": "8G", "dm.basesize": "4G"}
            ),
        }
        rows = []
        for case, context in contexts(work).items():
            samples: dict[str, list[tuple[float, float]]] = {driver: [] for driver in stores}
            for _ in range(RUNS):
                for driver, env in stores.items():
                    build_seconds, commit_seconds = measure(env, context)
                    samples[driver].append((build_seconds, commit_seconds))
                    print(
                        f"{case} on {driver}: build {build_seconds:.1f} s, "
                        f"commit {commit_seconds:.1f} s",
                        flush=True,
                    )
            medians = {
                driver: (
                    statistics.median(s[0] for s in values),
                    statistics.median(s[1] for s in values),
                )
                for driver, values in samples.items()
            }
            rows.append((case, medians))
    lines = [
        "# devicemapper against overlay",
        "",
        (
            f"Machine: {machine()} (inside scripts/vm/run-in-vm: TCG emulation). "
            f"Median of {RUNS} alternating runs, seconds."
        ),
        "",
        (
            "| case | overlay build | devicemapper build | ratio "
            "| overlay commit | devicemapper commit | ratio |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for case, medians in rows:
        (ob, oc), (db, dc) = medians["overlay"], medians["devicemapper"]
        lines.append(
            f"| {case} | {ob:.1f} | {db:.1f} | {db / ob:.2f} "
            f"| {oc:.1f} | {dc:.1f} | {dc / oc:.2f} |"
        )
    (REPO / "scripts" / "bench" / "DEVICEMAPPER.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
