"""bb build --jobs: independent stages at once, the same image as one at a time."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

# Each stage waits until the other has started: built one after the other, the first would
# wait out its 10 s and fail. The cache mount (sharing=shared) is the directory both see.
RENDEZVOUS = """\
FROM busybox AS left
RUN --mount=type=cache,id=meet,target=/meet,sharing=shared \\
    touch /meet/left && i=0; while [ ! -e /meet/right ]; do \\
    i=$((i+1)); [ $i -lt 100 ] || exit 9; sleep 0.1; done; echo left > /left
FROM busybox AS right
RUN --mount=type=cache,id=meet,target=/meet,sharing=shared \\
    touch /meet/right && i=0; while [ ! -e /meet/left ]; do \\
    i=$((i+1)); [ $i -lt 100 ] || exit 9; sleep 0.1; done; echo right > /right
FROM busybox
COPY --from=left /left /left
COPY --from=right /right /right
RUN cat /left /right > /both
"""


def _context(tmp_path, text, name="context"):
    context = tmp_path / name
    context.mkdir()
    (context / "Dockerfile").write_text(text)
    return context


def _leftovers(bb):
    """What a build must not leave: containers, runc containers and bundles, images."""
    run = bb.runroot
    return (
        bb("containers", "-q"),
        sorted(os.listdir(run / "runc")) if (run / "runc").exists() else [],
        sorted(os.listdir(run / "bundles")) if (run / "bundles").exists() else [],
        sorted(bb("images", "-q", "--notruncate").split()),
    )


@pytest.mark.parametrize("layers", [[], ["--layers"]], ids=["single-layer", "layers"])
def test_independent_stages_run_at_once(bb, tmp_path, layers):
    context = _context(tmp_path, RENDEZVOUS)
    before = _leftovers(bb)
    out = bb("build", "--jobs", "2", "--timestamp", "0", *layers, "-t", "met", str(context))
    image_id = out.splitlines()[-1]
    steps = [line for line in out.splitlines() if "STEP" in line]
    assert {line[:6] for line in steps} == {"[1/3] ", "[2/3] ", "[3/3] "}
    assert bb.run_in("met", "cat /both") == "left\nright"
    assert _leftovers(bb)[:3] == before[:3] == ("", [], [])
    if layers:  # every step is cached now, whichever way it is built
        again = bb("build", "--jobs", "2", "--timestamp", "0", *layers, str(context))
        assert again.splitlines()[-1] == image_id and "Using cache" in again
    # one stage at a time, the first waits for the second in vain (in a fresh cache directory)
    (context / "Dockerfile").write_text(RENDEZVOUS.replace("id=meet", "id=again"))
    result = bb.run("build", "--jobs", "1", str(context), check=False)
    assert result.returncode == 9, result.stderr
    assert _leftovers(bb)[:3] == before[:3]


def test_same_image_id_as_one_stage_at_a_time(bb, tmp_path):
    context = _context(
        tmp_path,
        "FROM busybox AS a\nRUN echo a > /a\nFROM busybox AS b\nRUN echo b > /b\n"
        "FROM scratch\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n",
    )
    ids = {
        jobs: bb("build", "-q", "--jobs", jobs, "--timestamp", "0", str(context))
        for jobs in ("1", "2", "0")
    }
    assert len(set(ids.values())) == 1, ids


def test_a_failing_stage_stops_the_others_and_leaves_nothing(bb, tmp_path):
    context = _context(
        tmp_path,
        "FROM busybox AS slow\nRUN echo started > /started && sleep 120\n"
        "FROM busybox AS other\nRUN echo done > /done\n"
        "FROM busybox AS failing\nRUN sleep 1 && exit 7\n"
        "FROM busybox\nCOPY --from=slow /started /s\nCOPY --from=other /done /d\n"
        "COPY --from=failing /etc/passwd /p\n",
    )
    before = _leftovers(bb)
    started = time.monotonic()
    result = bb.run("build", "--jobs", "3", str(context), check=False)
    assert time.monotonic() - started < 60  # not the 120 s of the slow stage
    assert result.returncode == 7, result.stderr
    assert result.stderr.count("Error:") == 1 and "exit 7" in result.stderr, result.stderr
    assert _leftovers(bb) == before
    assert not subprocess.run(
        ["pgrep", "-f", "sleep 120"], capture_output=True
    ).stdout  # the slow stage's RUN was killed


def test_jobs_is_checked(bb, tmp_path):
    result = bb.run("build", "--jobs", "-1", str(_context(tmp_path, "FROM busybox\n")), check=False)
    assert result.returncode == 125 and "--jobs -1" in result.stderr
