"""Hostile build contexts: Dockerfiles that lead out of the context or are not files, errors that
would quote a secret file, .dockerignore'd files reached through symlinks, output files that
cannot be written."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

# Not an identifier (an error may name those), so no error message may ever contain it.
SECRET = "s3cr3t.t0ken-value"
# An identifier too long to be named.
LONG_SECRET = "S3CR3TT0KEN" * 4


@pytest.fixture
def driver() -> str:
    """A context meets the same code on every driver: overlay only."""
    return "overlay"


def assert_quiet_failure(bb, *args: str, secret: str = SECRET) -> str:  # type: ignore[no-untyped-def]
    """bb fails with exit 125, one Error line, nothing quoting `secret`; returns stderr."""
    result = bb.run(*args, check=False, timeout=30)
    assert result.returncode == 125, result.stdout + result.stderr
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert secret.lower() not in (result.stdout + result.stderr).lower(), result.stderr
    return result.stderr


def make_context(tmp_path: Path, dockerfile: str | None = "FROM scratch\n") -> Path:
    context = tmp_path / "ctx"
    context.mkdir()
    if dockerfile is not None:
        (context / "Dockerfile").write_text(dockerfile)
    return context


def test_dockerfile_symlink_out_of_the_context_is_refused(bb, tmp_path, monkeypatch):
    outside = tmp_path / "outside"
    outside.write_text(f"FROM scratch\nENV LEAK={SECRET}\n")
    context = make_context(tmp_path, None)
    os.symlink("/proc/self/environ", context / "Dockerfile")
    monkeypatch.setenv("CI_TOKEN", SECRET)  # bb's environment, which /proc/self/environ would show
    error = assert_quiet_failure(bb, "build", str(context))
    assert "Dockerfile: is a symbolic link leading out of the build context" in error
    (context / "Dockerfile").unlink()
    os.symlink(str(outside), context / "Dockerfile")
    assert "leading out of the build context" in assert_quiet_failure(bb, "build", str(context))
    (context / "Dockerfile").unlink()
    os.symlink("../outside", context / "Dockerfile.prod")
    assert "leading out" in assert_quiet_failure(
        bb, "build", "-f", str(context / "Dockerfile.prod"), str(context)
    )
    # a symlink that stays inside the context is read; so is -f naming a file outside it
    (context / "real").write_text("FROM scratch\nLABEL inside=yes\n")
    os.symlink("real", context / "Dockerfile")
    assert bb("build", "-q", str(context))
    assert bb("build", "-q", "-f", str(outside), str(context))


def test_dockerignore_symlink_out_of_the_context_is_refused(bb, tmp_path):
    context = make_context(tmp_path)
    (tmp_path / "patterns").write_text(f"[{SECRET}\n")
    os.symlink(str(tmp_path / "patterns"), context / ".dockerignore")
    error = assert_quiet_failure(bb, "build", str(context))
    assert ".dockerignore: is a symbolic link leading out of the build context" in error


@pytest.mark.parametrize("kind", ["fifo", "directory", "proc", "device"])
def test_dockerfile_that_is_not_a_regular_file_is_refused_at_once(bb, tmp_path, kind):
    context = make_context(tmp_path, None)
    args = ["build", str(context)]
    if kind == "fifo":
        os.mkfifo(context / "Dockerfile")
    elif kind == "directory":
        (context / "Dockerfile").mkdir()
    else:
        args = [
            "build",
            "-f",
            "/proc/self/environ" if kind == "proc" else "/dev/zero",
            str(context),
        ]
    # (a read of the FIFO or /dev/zero would hang or run out of memory: the timeout catches it)
    assert "not a regular file" in assert_quiet_failure(bb, *args)
    if kind == "fifo":
        os.unlink(context / "Dockerfile")
        os.mkfifo(context / ".dockerignore")
        (context / "Dockerfile").write_text("FROM scratch\n")
        assert ".dockerignore: not a regular file" in assert_quiet_failure(
            bb, "build", str(context)
        )


PARSE_ERRORS = {
    "unknown instruction": (f"FROM scratch\n{SECRET} x\n", "Dockerfile:2: unknown instruction"),
    "environ-like line": (f"CI_TOKEN={SECRET} HOME=/root\n", "Dockerfile:1: unknown instruction"),
    "unknown long word": (f"FROM scratch\n{LONG_SECRET}\n", "Dockerfile:2: unknown instruction"),
    "unknown ONBUILD trigger": (
        f"FROM scratch\nONBUILD {SECRET}\n",
        "Dockerfile:2: unknown instruction",
    ),
    "escape directive": (
        f"# escape={SECRET}\nFROM scratch\n",
        "Dockerfile:1: invalid escape character",
    ),
    "ENV pair": (f"FROM scratch\nENV A=1 {SECRET}\n", "Dockerfile:2: ENV: expected KEY=VALUE"),
    "ARG without name": (f"FROM scratch\nARG ={SECRET}\n", "Dockerfile:2: ARG: a name is missing"),
    "unterminated heredoc": (
        f"FROM scratch\nRUN <<{SECRET}\necho\n",
        "Dockerfile:2: heredoc <<... is not terminated",
    ),
    "bad stage name": (f"FROM scratch AS {SECRET}!\n", "Dockerfile:1: invalid stage name"),
    "long stage name": (f"FROM scratch AS {SECRET * 5}\n", "Dockerfile:1: stage name is longer"),
    "duplicate stage name": (
        f"FROM scratch AS {SECRET}\nFROM scratch AS {SECRET}\n",
        "Dockerfile:2: duplicate stage name (line 1 has it too)",
    ),
    "HEALTHCHECK option": (
        f"FROM scratch\nHEALTHCHECK --{SECRET}=1 CMD true\n",
        "Dockerfile:2: HEALTHCHECK: unknown option",
    ),
    "HEALTHCHECK duration": (
        f"FROM scratch\nHEALTHCHECK --interval={SECRET} CMD true\n",
        "Dockerfile:2: HEALTHCHECK: --interval: expected a duration",
    ),
    "HEALTHCHECK retries": (
        f"FROM scratch\nHEALTHCHECK --retries={SECRET} CMD true\n",
        "Dockerfile:2: HEALTHCHECK: --retries: expected a number",
    ),
    "required variable": (
        f"ARG A=${{UNSET:?{SECRET}}}\nFROM scratch\n",
        "Dockerfile:1: ARG: variable UNSET is not allowed",
    ),
    "unsupported modifier": (
        f"ARG A=${{{LONG_SECRET}%x}}\nFROM scratch\n",
        "Dockerfile:1: ARG: unsupported modifier",
    ),
    "directive given twice": (
        f"# {LONG_SECRET}=1\n# {LONG_SECRET}=2\nFROM scratch\n",
        "Dockerfile:2: a directive given twice",
    ),
    # (found when the step runs; -q: no STEP line, which shows the instruction by design)
    "unsupported flag": (
        f"FROM scratch\nCOPY --{SECRET}=1 a b\n",
        "Dockerfile:2: COPY: an option is not supported",
    ),
    "platform": (
        f"FROM --platform=linux/{SECRET}/v8/more scratch\n",
        "Dockerfile:1: FROM --platform: expected OS/ARCH[/VARIANT]",
    ),
    "NUL bytes": (f"A={SECRET}\0B=1\0", "Dockerfile: not a text file"),
}


@pytest.mark.parametrize("case", sorted(PARSE_ERRORS))
def test_parse_errors_never_quote_the_file(bb, tmp_path, case):
    text, expected = PARSE_ERRORS[case]
    context = make_context(tmp_path, text)
    error = assert_quiet_failure(bb, "build", "-q", str(context))
    assert expected in error and LONG_SECRET.lower() not in error.lower()


def test_dockerignore_errors_never_quote_the_file(bb, tmp_path):
    context = make_context(tmp_path)
    (context / ".dockerignore").write_text(f"ok\n[{SECRET}\n")
    assert ".dockerignore:2: bad pattern" in assert_quiet_failure(bb, "build", str(context))


def image_files(bb, image: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Every entry of the image: path -> symlink target, file contents or 'dir'."""
    container = bb("from", image)
    try:
        root = Path(bb("mount", container))
        found = {}
        for current, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                path = Path(current, name)
                relative = str(path.relative_to(root))
                if path.is_symlink():
                    found[relative] = "-> " + os.readlink(path)
                elif path.is_dir():
                    found[relative] = "dir"
                else:
                    found[relative] = path.read_text()
        return found
    finally:
        bb("umount", container)
        bb("rm", container)


def test_dockerignored_files_never_reach_the_image_through_symlinks(bb, tmp_path):
    context = make_context(tmp_path)
    (context / "secret.txt").write_text(SECRET)
    (context / "secretdir").mkdir()
    (context / "secretdir" / "key").write_text(SECRET)
    (context / "partdir").mkdir()
    (context / "partdir" / "hidden").write_text(SECRET)
    (context / "partdir" / "ok").write_text("ok")
    (context / "public.txt").write_text("public")
    (context / ".dockerignore").write_text("secret.txt\nsecretdir\npartdir/hidden\n")
    for name, target in [
        ("link", "secret.txt"),
        ("dirlink", "secretdir"),
        ("partlink", "partdir"),
        ("outlink", "/etc/shadow"),
        ("uplink", "../../../../etc/shadow"),
    ]:
        os.symlink(target, context / name)
    images_before = bb("images", "-q")
    for copy in [
        "COPY link /",
        "COPY l* /g/",
        "COPY dirlink/ /x/",
        "COPY dirlink/key /k",
        "COPY dirlink /x/",
        "COPY outlink /",
        "COPY uplink /",
    ]:
        (context / "Dockerfile").write_text(f"FROM scratch\n{copy}\n")
        error = assert_quiet_failure(bb, "build", "-q", str(context))
        assert f'Dockerfile:2: COPY: COPY "{copy.split()[1]}": no such file or directory' in error
    assert bb("images", "-q") == images_before
    # a directory copy keeps symlinks as symlinks; through a link, excluded entries stay out
    (context / "Dockerfile").write_text(
        "FROM scratch\nCOPY . /all/\nCOPY partlink /p/\nCOPY --chmod=0644 public.txt /\n"
    )
    files = image_files(bb, bb("build", "-q", str(context)).splitlines()[-1])
    assert SECRET not in "".join(files.values())
    assert files["all/link"] == "-> secret.txt" and files["all/dirlink"] == "-> secretdir"
    assert files["all/outlink"] == "-> /etc/shadow"
    assert (
        "all/secret.txt" not in files
        and "all/secretdir" not in files
        and "all/partdir/hidden" not in files
    )
    assert files["p/ok"] == "ok" and "p/hidden" not in files
    assert files["public.txt"] == "public"


def test_iidfile_is_checked_before_the_build(bb, tmp_path):
    context = make_context(tmp_path, "FROM busybox\nRUN touch /ran\n")
    images_before = bb("images", "-q")
    missing = str(tmp_path / "missing" / "id")
    error = assert_quiet_failure(bb, "build", "--iidfile", missing, str(context))
    assert error == f"Error: --iidfile {missing}: no such directory {tmp_path / 'missing'}\n"
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(read_only)], check=True)
    try:
        error = assert_quiet_failure(bb, "build", "--iidfile", str(read_only / "id"), str(context))
        assert error == f"Error: --iidfile {read_only / 'id'}: cannot write in {read_only}\n"
    finally:
        subprocess.run(["umount", str(read_only)], check=True)
    assert "is a directory" in assert_quiet_failure(
        bb, "build", "--iidfile", str(tmp_path), str(context)
    )
    # nothing was built: no step ran, no image or container is left
    assert bb("images", "-q") == images_before
    assert bb("containers", "-q") == ""
    written = tmp_path / "id"
    image = bb("build", "-q", "--iidfile", str(written), str(context)).splitlines()[-1]
    assert written.read_text() == f"sha256:{image}"
