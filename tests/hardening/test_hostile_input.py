"""Hostile layers, archives, contexts and Dockerfiles: refused or made harmless, never escaping
the root."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bb.archive.extract import Whiteouts, extract_tar
from bb.errors import BBError


@pytest.fixture
def driver() -> str:
    """Hostile input meets the same code on every driver: overlay only."""
    return "overlay"


def layer(*members: tuple[tarfile.TarInfo, bytes | None]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    buffer.seek(0)
    return buffer


def entry(
    name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "", mode: int = 0o644
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, linkname, mode
    return info


def test_hard_link_out_of_the_root_is_refused(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    secret = tmp_path / "secret"
    secret.write_text("host secret")
    with pytest.raises(BBError):
        extract_tar(
            layer((entry("stolen", tarfile.LNKTYPE, str(secret)), None)), str(root), Whiteouts.APPLY
        )
    assert not (root / "stolen").exists() or (root / "stolen").stat().st_ino != secret.stat().st_ino


def test_symlink_then_write_through_stays_inside(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    extract_tar(
        layer(
            (entry("link", tarfile.SYMTYPE, "../../outside"), None),
            (entry("link/planted"), b"planted"),
        ),
        str(root),
        Whiteouts.APPLY,
    )
    assert list(outside.iterdir()) == []
    assert (root / "outside" / "planted").read_bytes() == b"planted"


def test_devices_and_setuid_are_kept_inside(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    device = entry("dev/sda", tarfile.BLKTYPE, mode=0o660)
    device.devmajor, device.devminor = 8, 0
    extract_tar(
        layer(
            (entry("dev/", tarfile.DIRTYPE, mode=0o755), None),
            (device, None),
            (entry("bin/su", mode=0o4755), b"#!/bin/sh\n"),
        ),
        str(root),
        Whiteouts.APPLY,
    )
    info = os.lstat(root / "dev" / "sda")
    assert stat.S_ISBLK(info.st_mode) and os.major(info.st_rdev) == 8
    assert stat.S_IMODE(os.stat(root / "bin" / "su").st_mode) == 0o4755


def test_huge_sparse_file_takes_no_space(tmp_path):
    source = tmp_path / "sparse"
    with open(source, "wb") as sparse:
        sparse.truncate(8 << 30)
        sparse.seek(4 << 30)
        sparse.write(b"middle")
    archive = tmp_path / "sparse.tar"
    with tarfile.open(archive, "w", format=tarfile.GNU_FORMAT) as tar:
        tar.add(source, arcname="sparse")
    root = tmp_path / "root"
    root.mkdir()
    with open(archive, "rb") as stream:
        extract_tar(stream, str(root), Whiteouts.APPLY)
    written = root / "sparse"
    assert written.stat().st_size == 8 << 30
    assert written.stat().st_blocks * 512 < 64 << 20
    with open(written, "rb") as check:
        check.seek(4 << 30)
        assert check.read(6) == b"middle"


def test_copy_source_symlink_out_of_the_context(bb, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (tmp_path / "outside-secret").write_text("secret")
    os.symlink(str(tmp_path / "outside-secret"), context / "link")
    os.symlink("../outside-secret", context / "relative-link")
    (context / "Dockerfile").write_text("FROM busybox\nCOPY link /got\n")
    error = bb.fails("build", str(context))
    assert "Dockerfile:2: COPY" in error and "no such file" in error
    (context / "Dockerfile").write_text("FROM busybox\nCOPY relative-link /got\n")
    assert "Dockerfile:2: COPY" in bb.fails("build", str(context))


def test_ten_thousand_line_dockerfile(bb, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    lines = ["FROM busybox"] + [f"LABEL l{n}={n}" for n in range(10_000)] + ["RUN true"]
    (context / "Dockerfile").write_text("\n".join(lines) + "\n")
    image = bb("build", "-q", str(context)).split()[-1]
    assert '"l9999": "9999"' in bb("inspect", "--type", "image", image)


def test_deeply_nested_expansion_is_refused(bb, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox\nENV A=" + "${X:-" * 500 + "x" + "}" * 500 + "\n"
    )
    assert "Dockerfile:2: ENV" in bb.fails("build", str(context))


def test_non_root_gets_a_clear_error(bb):
    import subprocess

    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bb.executable, "images"],
        env=bb.env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 125
    assert result.stderr.strip().splitlines() == [
        "Error: bb must run as root (rootless mode is not supported)"
    ]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=3000))
def test_archive_reader_fuzz(tmp_path, data):
    root = tmp_path / "fuzz"
    root.mkdir(exist_ok=True)
    try:
        extract_tar(io.BytesIO(data), str(root), Whiteouts.APPLY)
    except BBError:
        pass


MEMBER = st.tuples(
    st.sampled_from(
        ["a", "../x", "/abs", "d/", "d/f", "l", ".wh.a", "d/.wh..wh..opq", "x/../../y", ""]
    ),
    st.sampled_from(
        [tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE]
    ),
    st.sampled_from(["", "a", "../../etc", "/etc/passwd", "d"]),
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(MEMBER, max_size=8))
def test_structured_archive_fuzz(tmp_path, members):
    base = tmp_path / "structured"
    base.mkdir(exist_ok=True)
    root = Path(base / "root")
    root.mkdir(exist_ok=True)
    sentinel = set(os.listdir(base))
    archive = layer(
        *[
            (entry(name or ".", kind, linkname), b"x" if kind == tarfile.REGTYPE else None)
            for name, kind, linkname in members
        ]
    )
    try:
        extract_tar(archive, str(root), Whiteouts.APPLY)
    except BBError:
        pass
    assert set(os.listdir(base)) == sentinel  # nothing ever lands beside the root
