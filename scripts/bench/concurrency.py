#!/usr/bin/env python3
"""How many `bb build`s can run at once on one store? (isula-build promises 100.)

    scripts/bench/concurrency.py [--counts 20,50,100]

For each count N, starts N builds of different small Dockerfiles (COPY, RUN,
LABEL) on one fresh store at the same moment, waits for all, and checks that
the store then lists exactly the N images and that no mount or container was
left behind. Writes scripts/bench/CONCURRENCY.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts" / "bench"))
from compare import BB, machine, sh  # noqa: E402


def run_builds(work: Path, count: int) -> dict[str, object]:
    env = {
        **os.environ,
        "BB_ROOT": str(work / "root"),
        "BB_RUNROOT": str(work / "run"),
        "BB_STORAGE_DRIVER": "overlay",
        "BB_CONFIG": os.devnull,
    }
    sh("sh", str(REPO / "scripts" / "examples" / "busybox.sh"), env=env)
    processes = []
    start = time.monotonic()
    for number in range(count):
        context = work / f"ctx{number}"
        context.mkdir()
        (context / "data").write_text(f"build {number}\n")
        (context / "Dockerfile").write_text(
            f"FROM busybox\nCOPY data /data\nRUN echo {number} > /number\nLABEL build={number}\n"
        )
        processes.append(
            subprocess.Popen(
                [BB, "build", "-q", "-t", f"concurrent:{number}", str(context)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    errors = [process.communicate()[1].strip() for process in processes if process.wait() != 0]
    elapsed = time.monotonic() - start
    listed = len(sh(BB, "images", "-q", env=env).stdout.split()) - 1  # less busybox
    leftovers = len(sh(BB, "containers", "-q", env=env).stdout.split())
    mounts = sum(1 for line in open("/proc/self/mountinfo") if str(work) in line)
    return {
        "count": count,
        "seconds": elapsed,
        "failed": len(errors),
        "listed": listed,
        "leftovers": leftovers,
        "mounts": mounts,
        "first error": errors[0].splitlines()[-1] if errors else "",
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--counts", default="20,50,100")
    args = parser.parse_args()
    rows: list[dict] = []
    for count in (int(text) for text in args.counts.split(",")):
        with tempfile.TemporaryDirectory(prefix="bb-concurrency-", dir="/var/tmp") as directory:
            rows.append(run_builds(Path(directory), count))
        print(rows[-1], flush=True)
    lines = [
        "# Concurrent builds on one store",
        "",
        (
            f"Machine: {machine()}. Made by `scripts/bench/concurrency.py`: "
            "N builds started at once (overlay)."
        ),
        "",
        (
            "| builds | wall time (s) | per build (s) | failed | images listed "
            "| containers left | mounts left | first error |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['count']} | {row['seconds']:.1f} | {row['seconds'] / row['count']:.2f} "
            f"| {row['failed']} | {row['listed']} | {row['leftovers']} | {row['mounts']} "
            f"| {row['first error']} |"
        )
    (REPO / "scripts" / "bench" / "CONCURRENCY.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
