#!/usr/bin/env python3
"""Side-by-side benchmark: bb against buildah (and docker build, when a daemon can start),
same machine, same inputs.

    scripts/bench/compare.py [--runs N] [--cases 1,2,...] [--out scripts/bench]

Runs alternate between the tools; each case reports the median of N runs and
the ratio bb/peer. Writes RESULTS.md (a markdown table, with the machine
described) and results.png (time per case) into --out. Needs root, bb,
buildah, docker.io and busybox-static (scripts/install.sh --test installs them),
plus matplotlib for the plot (installed into bb's venv on first use).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BB = shutil.which("bb") or "bb"
# the peers' starters the transport tests use (tests/testbed.py)
sys.path.insert(0, str(REPO / "tests"))
from testbed import start_dockerd, start_registry, stop_dockerd  # noqa: E402


def sh(
    *args: str, env: dict | None = None, cwd: str | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    result = subprocess.run(list(args), env=env, cwd=cwd, capture_output=True, text=True)
    if check and result.returncode:
        raise RuntimeError(f"{' '.join(args)}: {result.stderr[-2000:]}")
    return result


def timed(*args: str, **kwargs) -> float:  # type: ignore[no-untyped-def]
    # Each tool pays for its own writes only: without this, whichever runs next pays the
    # previous tool's dirty pages (after docker's 20,000-file build, several seconds).
    os.sync()
    start = time.monotonic()
    sh(*args, **kwargs)
    return time.monotonic() - start


class Tools:
    """bb, buildah and docker, each on its own private store, all holding the same busybox image."""

    def __init__(self, work: Path):
        self.work = work
        self.bb_env = {
            **os.environ,
            "BB_ROOT": str(work / "bb-root"),
            "BB_RUNROOT": str(work / "bb-run"),
            "BB_STORAGE_DRIVER": "overlay",
            "BB_CONFIG": str(work / "none.toml"),
        }
        (work / "none.toml").write_text("")
        self.buildah = [
            "buildah",
            "--root",
            str(work / "buildah-root"),
            "--runroot",
            str(work / "buildah-run"),
            "--storage-driver",
            "overlay",
        ]
        sh("sh", str(REPO / "scripts" / "examples" / "busybox.sh"), env=self.bb_env)
        archive = work / "busybox.tar"
        sh(BB, "save", "-o", str(archive), "busybox", env=self.bb_env)
        sh(*self.buildah, "pull", f"docker-archive:{archive}")
        sh(*self.buildah, "tag", "localhost/busybox:latest", "busybox")
        self.docker_host = self._start_docker(archive)

    def _start_docker(self, archive: Path) -> str | None:
        if not shutil.which("dockerd"):
            return None
        self.docker_base = self.work / "docker"
        self.docker_base.mkdir()
        self.dockerd, host = start_dockerd(self.docker_base)
        sh("docker", "-H", host, "load", "-i", str(archive))
        return host

    def stop(self) -> None:
        if self.docker_host:
            stop_dockerd(self.dockerd, self.docker_base)
        sh(*self.buildah, "rm", "--all", check=False)

    def build(self, tool: str, context: Path, layers: bool = False, jobs: int = 1) -> float:
        """Seconds to build `context`, with `jobs` stages at once (bb and buildah)."""
        if tool == "bb":
            return timed(
                BB,
                "build",
                "-q",
                f"--jobs={jobs}",
                *(["--layers"] if layers else []),
                str(context),
                env=self.bb_env,
            )
        if tool == "buildah":
            return timed(
                *self.buildah,
                "bud",
                "-q",
                f"--jobs={jobs}",
                f"--layers={'true' if layers else 'false'}",
                str(context),
            )
        # "docker": the classic builder; "buildkit": the BuildKit built into dockerd, driven by
        # Debian's docker 20.10 CLI (/usr/bin/docker: the docker first on PATH may be a newer CLI
        # that cannot drive it without buildx). BuildKit needs host networking here: the daemon
        # runs without a bridge.
        buildkit = tool == "buildkit"
        return timed(
            "/usr/bin/docker" if buildkit else "docker",
            "-H",
            str(self.docker_host),
            "build",
            "-q",
            "--network",
            "host" if buildkit else "none",
            *([] if layers else ["--no-cache"]),
            str(context),
            env={**os.environ, "DOCKER_BUILDKIT": "1" if buildkit else "0"},
        )


def make_contexts(work: Path) -> dict[str, Path]:
    contexts = {}
    small = work / "small-steps"
    small.mkdir()
    lines = ["FROM busybox"]
    for step in range(5):
        (small / f"file{step}.txt").write_text(f"content {step}\n" * 100)
        lines += [
            f"COPY file{step}.txt /data/",
            f"RUN echo step{step} >> /data/log && ls /data > /dev/null",
        ]
    (small / "Dockerfile").write_text("\n".join(lines) + "\n")
    contexts["1 ten small RUN/COPY steps"] = small
    tree = work / "many-files"
    (tree / "tree").mkdir(parents=True)
    for directory in range(200):
        sub = tree / "tree" / f"d{directory}"
        sub.mkdir()
        for number in range(100):
            (sub / f"f{number}").write_text(f"{directory}/{number}\n")
    (tree / "Dockerfile").write_text("FROM busybox\nCOPY tree /tree\n")
    contexts["2 COPY of 20,000 files"] = tree
    big = work / "big-file"
    big.mkdir()
    (big / "Dockerfile").write_text(
        "FROM busybox\nRUN dd if=/dev/zero of=/big bs=1M count=1024 2>/dev/null\n"
    )
    contexts["3 RUN writing one 1 GiB file"] = big
    return contexts


STEP_COMMANDS = 32  # what each script below runs
STEP_SCRIPT_BB = """
set -e
ctr=$(bb from busybox)
for i in $(seq 1 10); do
  bb config --env N$i=$i "$ctr"
  bb copy "$ctr" "$1" /f$i
  bb run "$ctr" -- true
done
bb rm "$ctr" > /dev/null
"""
STEP_SCRIPT_BUILDAH = """
set -e
ctr=$(buildah "$@" from busybox)
for i in $(seq 1 10); do
  buildah "$@" config --env N$i=$i "$ctr"
  buildah "$@" copy "$ctr" "$FILE" /f$i > /dev/null
  buildah "$@" run "$ctr" -- true
done
buildah "$@" rm "$ctr" > /dev/null
"""


def step_commands(tools: Tools, tool: str) -> float:
    """32 step commands (from, 10 each of config, copy and run, rm); the time per command."""
    file = tools.work / "stepfile"
    file.write_text("x\n")
    if tool == "bb":
        return (
            timed("sh", "-c", STEP_SCRIPT_BB, "bench", str(file), env=tools.bb_env) / STEP_COMMANDS
        )
    return (
        timed(
            "sh",
            "-c",
            STEP_SCRIPT_BUILDAH,
            "bench",
            *tools.buildah[1:],
            env={**os.environ, "FILE": str(file)},
        )
        / STEP_COMMANDS
    )


def commit_throughput(tools: Tools) -> tuple[float, float]:
    """(bb commit seconds, tar | sha256sum seconds) for a 1 GiB layer."""
    ctr = sh(BB, "from", "busybox", env=tools.bb_env).stdout.strip()
    sh(BB, "run", ctr, "--", "sh", "-c", "head -c 1073741824 /dev/urandom > /big", env=tools.bb_env)
    mounted = sh(BB, "mount", ctr, env=tools.bb_env).stdout.strip()
    limit = timed("sh", "-c", f"tar -C '{mounted}' -cf - big | sha256sum > /dev/null")
    sh(BB, "umount", ctr, env=tools.bb_env)
    commit = timed(BB, "commit", "--rm", ctr, "throughput", env=tools.bb_env)
    sh(BB, "rmi", "throughput", env=tools.bb_env)
    return commit, limit


STAGES_DOCKERFILE = """\
FROM busybox AS one
RUN sleep 3 && echo one > /one
FROM busybox AS two
RUN sleep 3 && echo two > /two
FROM busybox AS three
RUN sleep 3 && echo three > /three
FROM busybox
COPY --from=one /one /one
COPY --from=two /two /two
COPY --from=three /three /three
"""


def make_push_image(tools: Tools) -> Path:
    """The image the push and pull cases move: busybox and ~510 MB in six layers (five 100 MB
    random files, one each, and 3,000 text files), as issue 18 asks; saved as a docker-archive
    for skopeo to push."""
    context = tools.work / "push-context"
    (context / "text").mkdir(parents=True)
    for number in range(5):
        (context / f"random{number}").write_bytes(os.urandom(100 << 20))
    for number in range(3000):
        (context / "text" / f"file{number}.txt").write_text(f"line {number} of a text file\n" * 40)
    copies = "".join(f"COPY random{number} /data/\n" for number in range(5))
    (context / "Dockerfile").write_text(f"FROM busybox\n{copies}COPY text /data/text\n")
    sh(BB, "build", "-q", "--layers", "-t", "pushed", str(context), env=tools.bb_env)
    archive = tools.work / "pushed.tar"
    sh(BB, "save", "-o", str(archive), "pushed", env=tools.bb_env)
    return archive


class FreshRegistry:
    """A docker-registry with empty storage, for one timed push or pull."""

    def __init__(self, base: Path):
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        self.base = base
        self.process, self.address = start_registry(base)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()
        shutil.rmtree(self.base, ignore_errors=True)


def push_once(tools: Tools, tool: str, archive: Path) -> float:
    """Seconds for one push of the image to an empty registry: bb from its store (its records
    of compressed layers dropped first, so it compresses), skopeo --dest-compress from the
    docker-archive of the same image."""
    registry = FreshRegistry(tools.work / "registry")
    try:
        if tool == "bb":
            shutil.rmtree(tools.work / "bb-root" / "compressed", ignore_errors=True)
            return timed(
                BB, "push", "pushed", f"docker://{registry.address}/p/pushed:1", env=tools.bb_env
            )
        return timed(
            "skopeo",
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "--dest-compress",
            f"docker-archive:{archive}",
            f"docker://{registry.address}/p/pushed:1",
        )
    finally:
        registry.stop()


def pull_once(tools: Tools, tool: str) -> float:
    """Seconds for one pull of the image bb pushed into an empty store of each tool (skopeo's
    into a containers-storage store, as buildah's)."""
    registry = FreshRegistry(tools.work / "registry")
    store = tools.work / f"pull-{tool}"
    try:
        sh(BB, "push", "pushed", f"docker://{registry.address}/p/pushed:1", env=tools.bb_env)
        source = f"{registry.address}/p/pushed:1"
        if tool == "bb":
            env = {**tools.bb_env, "BB_ROOT": str(store / "root"), "BB_RUNROOT": str(store / "run")}
            return timed(BB, "pull", source, env=env)
        if tool == "buildah":
            return timed(
                "buildah",
                "--root",
                str(store / "root"),
                "--runroot",
                str(store / "run"),
                "--storage-driver",
                "overlay",
                "pull",
                "-q",
                "--tls-verify=false",
                source,
            )
        destination = f"containers-storage:[overlay@{store / 'root'}+{store / 'run'}]pulled"
        return timed(
            "skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{source}", destination
        )
    finally:
        registry.stop()
        if tool != "bb":  # containers-storage leaves its layer mounts to a storage shutdown
            sh("umount", "-R", str(store / "root" / "overlay"), check=False)
        shutil.rmtree(store, ignore_errors=True)


STARTUP_RUNS = 20


def startup(tools: Tools) -> dict[str, dict[str, float]]:
    """Median seconds of `config` and `containers`, bb's and buildah's, run alternately."""
    bb_ctr = sh(BB, "from", "busybox", env=tools.bb_env).stdout.strip()
    buildah_ctr = sh(*tools.buildah, "from", "busybox").stdout.strip()
    commands = {
        "config": (
            ([BB, "config", "--env", "A=1", bb_ctr], tools.bb_env),
            ([*tools.buildah, "config", "--env", "A=1", buildah_ctr], None),
        ),
        "containers": (([BB, "containers"], tools.bb_env), ([*tools.buildah, "containers"], None)),
    }
    results = {}
    for verb, ((bb_argv, bb_env), (buildah_argv, _)) in commands.items():
        samples: dict[str, list[float]] = {"bb": [], "buildah": []}
        for _ in range(STARTUP_RUNS):
            samples["bb"].append(timed(*bb_argv, env=bb_env))
            samples["buildah"].append(timed(*buildah_argv))
        results[f"10 step command start-up: {verb} (median of {STARTUP_RUNS})"] = {
            tool: statistics.median(times) for tool, times in samples.items()
        }
    sh(BB, "rm", bb_ctr, env=tools.bb_env)
    sh(*tools.buildah, "rm", buildah_ctr)
    return results


def alternate(runs: int, measure: dict[str, object]) -> dict[str, float]:
    """The median of `runs` runs of each measure (tool -> callable), run by run alternately."""
    samples: dict[str, list[float]] = {tool: [] for tool in measure}
    for _ in range(runs):
        for tool, once in measure.items():
            samples[tool].append(once())  # type: ignore[operator]
    return {tool: statistics.median(times) for tool, times in samples.items()}


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo")
            if line.startswith("model name")
        ),
        "?",
    )
    memory = next(
        (
            int(line.split()[1]) // 1024 // 1024
            for line in open("/proc/meminfo")
            if line.startswith("MemTotal")
        ),
        0,
    )
    return (
        f"{platform.node()}: {os.cpu_count()} x {cpu}, {memory} GiB RAM, "
        f"Linux {platform.release()}, Python {platform.python_version()}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cases", default="1,2,3,4,5,6,7,8,9,10")
    parser.add_argument("--out", default=str(REPO / "scripts" / "bench"))
    args = parser.parse_args()
    wanted = set(args.cases.split(","))
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bb-bench-", dir="/var/tmp") as directory:
        work = Path(directory)
        tools = Tools(work)
        peers = ["buildah"] + (["docker"] if tools.docker_host else [])
        try:
            contexts = make_contexts(work)
            for name, context in contexts.items():
                if name.split()[0] not in wanted:
                    continue
                samples: dict[str, list[float]] = {tool: [] for tool in ["bb", *peers]}
                for _ in range(args.runs):
                    for tool in samples:  # alternate the tools run by run
                        samples[tool].append(tools.build(tool, context))
                results[name] = {tool: statistics.median(times) for tool, times in samples.items()}
            if "4" in wanted:
                context = contexts["1 ten small RUN/COPY steps"]
                samples = {tool: [] for tool in ["bb", *peers]}
                for tool in samples:
                    tools.build(tool, context, layers=True)
                for _ in range(args.runs):
                    for tool in samples:
                        samples[tool].append(tools.build(tool, context, layers=True))
                results["4 rebuild, nothing changed (--layers)"] = {
                    t: statistics.median(v) for t, v in samples.items()
                }
            if "5" in wanted:
                samples = {"bb": [], "buildah": []}
                for _ in range(args.runs):
                    for tool in samples:
                        samples[tool].append(step_commands(tools, tool))
                results["5 one step command (mean of 32)"] = {
                    t: statistics.median(v) for t, v in samples.items()
                }
            if "6" in wanted:
                commits, limits = zip(*(commit_throughput(tools) for _ in range(args.runs)))
                results["6 commit of a 1 GiB layer (limit: tar + sha256sum)"] = {
                    "bb": statistics.median(commits),
                    "tar+sha256sum": statistics.median(limits),
                }
            if wanted & {"7", "8"}:
                archive = make_push_image(tools)
                if "7" in wanted:
                    results[
                        "7 push of 510 MB in 7 layers to a registry (skopeo: --dest-compress)"
                    ] = alternate(
                        args.runs,
                        {
                            tool: lambda tool=tool: push_once(tools, tool, archive)
                            for tool in ("bb", "skopeo")
                        },
                    )
                if "8" in wanted:
                    results["8 pull of 510 MB in 7 layers into an empty store"] = alternate(
                        args.runs,
                        {
                            tool: lambda tool=tool: pull_once(tools, tool)
                            for tool in ("bb", "buildah", "skopeo")
                        },
                    )
            if "9" in wanted:
                stages = work / "stages"
                stages.mkdir()
                (stages / "Dockerfile").write_text(STAGES_DOCKERFILE)
                # docker is the classic builder, one stage after another; BuildKit runs
                # independent stages at once by default
                builders = ["bb", *peers, *(["buildkit"] if tools.docker_host else [])]
                results["9 three independent stages of sleep 3 (--jobs 3)"] = alternate(
                    args.runs,
                    {
                        tool: lambda tool=tool: tools.build(tool, stages, jobs=3)
                        for tool in builders
                    },
                )
            if "10" in wanted:
                results.update(startup(tools))
        finally:
            tools.stop()
    write_results(Path(args.out), results, args.runs)
    return 0


def write_results(out: Path, results: dict[str, dict[str, float]], runs: int) -> None:
    lines = [
        "# bb benchmark results",
        "",
        f"Machine: {machine()}. Median of {runs} alternating runs, seconds (lower is better).",
        "Made by `scripts/bench/compare.py`.",
        "",
        "| case | bb | peers | bb ÷ peer |",
        "|---|---|---|---|",
    ]
    for case, times in results.items():
        peers = [tool for tool in times if tool != "bb"]
        cells = [
            f"{times['bb']:.3f}",
            ", ".join(f"{tool} {times[tool]:.3f}" for tool in peers),
            ", ".join(f"{times['bb'] / times[tool]:.2f}" for tool in peers),
        ]
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    (out / "RESULTS.md").write_text("\n".join(lines) + "\n")
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    try:
        import matplotlib
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "matplotlib"], check=False)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        tools = sorted({tool for times in results.values() for tool in times})
        figure, axes = plt.subplots(len(results), 1, figsize=(8, 2.2 * len(results)))
        for axis, (case, times) in zip(axes if len(results) > 1 else [axes], results.items()):
            names = [tool for tool in tools if tool in times]
            axis.barh(
                names,
                [times[name] for name in names],
                color=["#2a7" if n == "bb" else "#888" for n in names],
            )
            axis.set_title(case, fontsize=9)
            axis.set_xlabel("seconds")
        figure.tight_layout()
        figure.savefig(out / "results.png", dpi=100)
    except ImportError:
        print("matplotlib unavailable: no plot", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
