"""Dockerfiles built by BuildKit (docker 20.10's, DOCKER_BUILDKIT=1) on the test's own dockerd,
compared with what bb builds from them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

# docker 20.10's own client: it drives the daemon's built-in BuildKit without buildx
DOCKER = "/usr/bin/docker"

RUN_MOUNTS = "".join(
    line + "\n"
    for line in [
        "FROM busybox",
        "RUN --mount=type=bind,source=data,target=/mnt/data cat /mnt/data/a.txt > /copied",
        "RUN --mount=type=bind,source=data,target=/mnt/rw,rw "
        "sh -c 'echo x > /mnt/rw/new; cat /mnt/rw/new > /rw'",
        "RUN --mount=type=cache,id=bb-buildkit,target=/cache "
        "sh -c 'echo c > /cache/c; ls /cache > /cached'",
        "RUN --mount=type=tmpfs,target=/scratch sh -c 'echo t > /scratch/t; ls /scratch > /tmpfs'",
        "RUN --mount=type=secret,id=token "
        "sh -c 'wc -c < /run/secrets/token > /size; stat -c %a /run/secrets/token > /mode'",
        "RUN --mount=type=secret,id=token,target=/custom,mode=0440,uid=65534 "
        "stat -c '%a %u' /custom > /custom-stat",
        "RUN --mount=type=bind,source=data/a.txt,target=/etc/one.txt "
        "--mount=type=tmpfs,target=/t2 cat /etc/one.txt > /two",
    ]
)


def _files(archive: bytes) -> dict[str, tuple]:
    """What `docker export` (or `bb`'s mounted root, tarred) holds: type, mode, owner, contents."""
    found = {}
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar:
            contents = tar.extractfile(member).read() if member.isfile() else b""  # type: ignore[union-attr]
            name = member.name[2:] if member.name.startswith("./") else member.name
            found["/" + name.strip("/")] = (
                member.type,
                member.mode & 0o7777,
                member.uid,
                member.gid,
                contents,
            )
    return found


def test_run_mounts_give_what_buildkit_gives(bb, dockerd, tmp_path):
    context = tmp_path / "context"
    (context / "data").mkdir(parents=True)
    (context / "data" / "a.txt").write_text("from the context\n")
    (context / "Dockerfile").write_text(RUN_MOUNTS)
    secret = tmp_path / "token"
    secret.write_text("s3cr3t-for-both\n")
    bb("save", "-o", str(tmp_path / "busybox.tar"), "busybox")
    dockerd.docker("load", "-i", str(tmp_path / "busybox.tar"))
    built = subprocess.run(
        [
            DOCKER,
            "-H",
            dockerd.host,
            "build",
            "-q",
            "--network",
            "host",
            "--secret",
            f"id=token,src={secret}",
            "-t",
            "mounts",
            str(context),
        ],
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    peer = dockerd.docker("create", "mounts", "true").stdout.strip()
    theirs = _files(
        subprocess.run(
            [DOCKER, "-H", dockerd.host, "export", peer], check=True, capture_output=True
        ).stdout
    )
    image = bb("build", "-q", "--secret", f"id=token,src={secret}", str(context)).splitlines()[-1]
    ctr = bb("from", image)
    root = Path(bb("mount", ctr))
    try:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            tar.add(root, arcname=".")
        ours = _files(buffer.getvalue())
    finally:
        bb("umount", ctr)
    written = ["/copied", "/rw", "/cached", "/tmpfs", "/size", "/mode", "/custom-stat", "/two"]
    assert {path: ours[path] for path in written} == {path: theirs[path] for path in written}
    # docker export adds /.dockerenv and what the runtime mounts (/dev, /proc, /sys, /etc/hosts...)
    exported = ["/.dockerenv", "/dev", "/proc", "/sys", "/etc/hosts", "/etc/hostname"]
    exported.append("/etc/resolv.conf")
    only_theirs = [
        path
        for path in sorted(set(theirs) - set(ours))
        if not any(path == top or path.startswith(top + "/") for top in exported)
    ]
    assert sorted(set(ours) - set(theirs) - {"/."}) == []
    # where the peers disagree: BuildKit leaves each mount's target (and the directories made
    # for it) in the image, empty, and an /etc/mtab link; bb leaves none
    assert only_theirs == [
        "/cache",
        "/etc/mtab",
        "/mnt",
        "/mnt/data",
        "/mnt/rw",
        "/run",
        "/run/secrets",
        "/scratch",
        "/t2",
    ]
    assert {theirs[path][0] for path in only_theirs} == {tarfile.DIRTYPE, tarfile.SYMTYPE}
    config = json.loads(dockerd.docker("image", "inspect", "mounts").stdout)[0]["Config"]
    our_config = json.loads(bb("inspect", "--type", "image", image))["Config"]["config"]
    for key in ("Env", "Cmd", "Entrypoint", "WorkingDir", "User"):
        assert (our_config.get(key) or None) == (config.get(key) or None), key
