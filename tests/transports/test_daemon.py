"""Images to and from a real Docker daemon: docker load/save and the docker-daemon transport."""

from __future__ import annotations

import subprocess


def test_docker_load_and_run_what_bb_saved(bb, dockerd, tmp_path):
    archive = tmp_path / "busybox.tar"
    bb("save", "-o", str(archive), "busybox")
    dockerd.docker("load", "-i", str(archive))
    out = dockerd.docker(
        "run",
        "--rm",
        "--network",
        "none",
        "localhost/busybox:latest",
        "sh",
        "-c",
        "echo from-docker",
    )
    assert out.stdout.strip() == "from-docker"


def test_bb_loads_what_docker_saved(bb, dockerd, empty_store_factory, tmp_path):
    archive = tmp_path / "busybox.tar"
    bb("save", "-o", str(archive), "busybox")
    dockerd.docker("load", "-i", str(archive))
    dockerd.docker("tag", "localhost/busybox:latest", "fromdocker:1")
    saved = tmp_path / "docker-saved.tar"
    dockerd.docker("save", "-o", str(saved), "fromdocker:1")
    other = empty_store_factory("other", "overlay")
    assert "Loaded image: docker.io/library/fromdocker:1" in other("load", "-i", str(saved))
    ctr = other("from", "fromdocker:1")
    assert other("run", ctr, "--", "echo", "ok") == "ok"


def test_docker_daemon_transport(bb, dockerd, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo built-for-docker > /marker\n")
    env = {**bb.env(), "DOCKER_HOST": dockerd.host}  # bb talks to the daemon DOCKER_HOST names
    result = subprocess.run(
        [bb.executable, "build", "-q", "-o", "docker-daemon:bbbuilt:1", str(context)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    out = dockerd.docker("run", "--rm", "--network", "none", "bbbuilt:1", "cat", "/marker")
    assert out.stdout.strip() == "built-for-docker"
    pulled = subprocess.run(
        [bb.executable, "pull", "docker-daemon:bbbuilt:1"], env=env, capture_output=True, text=True
    )
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.strip() == result.stdout.split()[-1]
    missing = subprocess.run(
        [bb.executable, "pull", "docker-daemon:nothere:1"], env=env, capture_output=True, text=True
    )
    assert missing.returncode == 125 and "no image nothere:1" in missing.stderr
