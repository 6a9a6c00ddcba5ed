"""bb ctr-img: isula-build's commands, through the group and through an `isula-build` alias."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


@pytest.fixture
def isula_build(bb, tmp_path: Path):  # type: ignore[no-untyped-def]
    """`isula-build ARGS...` as an isula-build user's script runs it: a PATH alias of `bb`."""
    directory = tmp_path / "alias"
    directory.mkdir()
    alias = directory / "isula-build"
    alias.write_text(f'#!/bin/sh\nexec {bb.executable} "$@"\n')
    alias.chmod(0o755)

    def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        env = bb.env()
        env["PATH"] = f"{directory}:{os.environ['PATH']}"
        return subprocess.run(
            ["isula-build", *args],
            env=env,
            cwd=bb.cwd,
            capture_output=True,
            text=True,
            input=input,
            timeout=300,
        )

    return run


def test_rm_all_with_a_name_is_refused(bb, isula_build):
    """`rm -a NAME` is a mistake isula-build refuses; it must not remove every image."""
    before = bb("images", "-q")
    result = isula_build("ctr-img", "rm", "-a", "foo:bar")
    assert result.returncode != 0 and "--all" in result.stderr
    assert bb("images", "-q") == before
    assert bb.fails("rmi", "-a", "busybox")
    assert bb("images", "-q") == before
