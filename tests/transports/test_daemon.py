"""Images to and from a real Docker daemon: docker load/save and the docker-daemon transport."""

from __future__ import annotations

import subprocess

from testbed import EXAMPLES


def test_docker_load_and_run_what_bb_saved(bb, dockerd, tmp_path):
    """Short names come out of `docker load` as typed (x:1, not localhost/x:1); qualified ones
    as they are."""
    names = ["x:1", "registry.example.com/team/x:2", "localhost:5000/x:3", "docker.io/hub/x:4"]
    bb("tag", "busybox", *names)
    archive = tmp_path / "busybox.tar"
    bb("save", "-o", str(archive), *names)
    loaded = dockerd.docker("load", "-i", str(archive)).stdout
    for name in [*names[:3], "hub/x:4"]:
        assert f"Loaded image: {name}\n" in loaded, loaded
    out = dockerd.docker("run", "--rm", "--network", "none", "x:1", "sh", "-c", "echo from-docker")
    assert out.stdout.strip() == "from-docker"
    built = tmp_path / "built.tar"
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo built > /built\n")
    bb("build", "-q", "-o", f"docker-archive:{built}:y:1", str(context))
    assert "Loaded image: y:1" in dockerd.docker("load", "-i", str(built)).stdout
    out = dockerd.docker("run", "--rm", "--network", "none", "y:1", "cat", "/built")
    assert out.stdout.strip() == "built"
    # and bb loads them back under its own names for them
    bb("rmi", "-a")
    assert sorted(bb("load", "-i", str(archive)).splitlines()) == [
        "Loaded image: docker.io/hub/x:4",
        "Loaded image: localhost/x:1",
        "Loaded image: localhost:5000/x:3",
        "Loaded image: registry.example.com/team/x:2",
    ]


def test_bb_loads_what_docker_saved(bb, dockerd, empty_store_factory, tmp_path):
    archive = tmp_path / "busybox.tar"
    bb("save", "-o", str(archive), "busybox")
    dockerd.docker("load", "-i", str(archive))
    dockerd.docker("tag", "busybox:latest", "fromdocker:1")
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


def test_isula_build_migration_example(bb, dockerd, isula_build, empty_store_factory, tmp_path):
    """scripts/examples/isula-build-migration.sh runs unchanged through the isula-build alias;
    what it saves loads into Docker and into another bb store."""
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run(
        ["sh", str(EXAMPLES / "isula-build-migration.sh"), str(out)],
        env=isula_build.env(),
        cwd=bb.cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Storage Driver:     overlay" in result.stdout
    assert bb("images", "-q", "hello:1") and bb("images", "-q", "hello-archive:1")
    for archive, name in (("hello.tar", "hello:1"), ("hello-archive.tar", "hello-archive:1")):
        dockerd.docker("load", "-i", str(out / archive))
        ran = dockerd.docker("run", "--rm", "--network", "none", f"localhost/{name}")
        assert ran.stdout.strip() == "hello from an isula-build script"
        other = empty_store_factory(name.replace(":", "-"), "overlay")
        other("load", "-i", str(out / archive))
        assert other.run_in(name, "cat /hello.txt") == "hello from an isula-build script"
