"""Progress of layer transfers on stderr, as buildah and skopeo show it: off a terminal a line when
each layer starts and one when it ends; at a terminal (a pty here) one line per layer rewritten
in place with bytes done / total and a rate; -q shows nothing."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import termios

import pytest

START = re.compile(r"Copying (?:blob|config) (sha256:[0-9a-f]{64})")
END = re.compile(
    r"Copying (?:blob|config) (sha256:[0-9a-f]{64}) done [0-9.]+(?:B|KiB|MiB) in [0-9.]+s "
    r"\([0-9.]+(?:B|KiB|MiB|GiB)/s\)"
)


@pytest.fixture
def big_image(bb) -> str:  # type: ignore[no-untyped-def]
    """busybox with a second layer of 24 MiB (random, so gzip cannot shrink it)."""
    ctr = bb("from", "busybox")
    bb("run", ctr, "--", "dd", "if=/dev/urandom", "of=/big", "bs=1M", "count=24")
    committed = bb.run("commit", "--rm", ctr, "big:1")
    # commit: the new layer's writing, started and ended
    lines = committed.stderr.splitlines()
    assert lines[0] == "Writing layer", committed.stderr
    assert re.fullmatch(
        r"Writing layer sha256:[0-9a-f]{64} done 2[45]\.[0-9]MiB in [0-9.]+s \(.*/s\)", lines[1]
    ), committed.stderr
    assert len(lines) == 2
    return committed.stdout.strip()


def layer_lines(stderr: str) -> tuple[list[str], list[str]]:
    """The digests of the `Copying blob|config` start lines and of the end lines, in order."""
    starts, ends = [], []
    for line in stderr.splitlines():
        if END.fullmatch(line):
            ends.append(END.fullmatch(line)[1])  # type: ignore[index]
        elif START.fullmatch(line):
            starts.append(START.fullmatch(line)[1])  # type: ignore[index]
        else:
            raise AssertionError(f"not a progress line: {line!r}")
    return starts, ends


def diff_ids(bb, image: str) -> list[str]:  # type: ignore[no-untyped-def]
    return json.loads(bb("inspect", "-t", "image", image))["Config"]["rootfs"]["diff_ids"]


def test_progress_off_a_terminal(bb, registry, big_image, tmp_path):
    layers = diff_ids(bb, big_image)
    name = f"{registry.address}/progress/big:1"
    pushed = bb.run("push", big_image, f"docker://{name}")
    lines = pushed.stderr.splitlines()
    # each layer (gzip digests) and the config: started, then done
    starts, ends = layer_lines("\n".join(lines))
    assert len(starts) == 2 + 1 and sorted(starts) == sorted(ends), pushed.stderr
    again = bb.run("push", big_image, f"docker://{name}")
    assert [line.rsplit(" ", 3)[-3:] for line in again.stderr.splitlines()[:2]] == [
        ["skipped:", "already", "exists"]
    ] * 2, again.stderr
    assert bb.run("push", "-q", big_image, f"docker://{name}-quiet").stderr == ""

    bb("rmi", big_image)
    pulled = bb.run("pull", name)
    starts, ends = layer_lines(pulled.stderr)
    assert len(starts) == 2 and sorted(starts) == sorted(ends), pulled.stderr
    assert bb.run("pull", "-q", name).stderr == ""

    archive = tmp_path / "big.tar"
    saved = bb.run("save", "-o", str(archive), name)
    assert layer_lines(saved.stderr) == (layers, layers)  # named by diff ID, one at a time
    assert bb.run("save", "-q", "-o", str(tmp_path / "quiet.tar"), name).stderr == ""
    bb("rmi", name)
    loaded = bb.run("load", "-i", str(archive))
    starts, ends = layer_lines(loaded.stderr)
    assert sorted(starts) == sorted(ends) == sorted(layers), loaded.stderr
    assert bb.run("load", "-q", "-i", str(archive)).stderr == ""
    oci = bb.run("push", name, f"oci-archive:{tmp_path / 'big-oci.tar'}")
    assert len(layer_lines(oci.stderr)[1]) == 2


def test_progress_at_a_terminal(bb, registry, big_image):
    name = f"{registry.address}/progress/tty:1"
    bb("push", "-q", big_image, f"docker://{name}")
    bb("rmi", big_image)
    # stderr a pseudo-terminal, as a user's; stdout a pipe
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(
        [bb.executable, "pull", name],
        env=bb.env(),
        cwd=bb.cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=follower,
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: bb closed its end
            break
        if not data:
            break
        shown += data
    os.close(leader)
    assert process.wait() == 0
    assert process.stdout is not None and process.stdout.read().strip()
    text = shown.decode()
    # each layer's line, shortened digests in columns, rewritten in place (cursor up, clear)
    # while bytes move, with total and rate, and `done` at its end
    assert "\x1b[1A" in text or "\x1b[2A" in text, text
    bars = re.findall(
        r"Copying blob ([0-9a-f]{12}) \[[=>-]{20}\] [0-9.]+(?:B|KiB|MiB) / ([0-9.]+MiB) "
        r"[0-9.]+(?:B|KiB|MiB|GiB)/s",
        text,
    )
    assert any(total.startswith("2") for _, total in bars), text  # the 24 MiB layer (gzip)
    done = set(re.findall(r"Copying blob ([0-9a-f]{12}) done", text))
    assert len(done) == 2 and {digest for digest, _ in bars} <= done, text
    # what stays on the screen after the last rewrite: the final line of each layer drawn in
    # that block (one layer when the first was done before the second started)
    final = re.split(r"\x1b\[[0-9]+A", text)[-1]
    lines = [line.replace("\r\x1b[2K", "") for line in final.split("\r\n") if line.strip()]
    assert 1 <= len(lines) <= 2 and all(" done " in line for line in lines), lines
