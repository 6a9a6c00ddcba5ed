"""A real-world Dockerfile on a real Debian base: `debootstrap --variant=minbase` imported with
`bb import`.

The imported image's config has no Env at all, as every imported rootfs; the Dockerfile extends
PATH, adds a user, installs a package from Debian's mirror and copies a context under a
.dockerignore with exceptions; the image must run.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

MIRROR = "http://deb.debian.org/debian"
DOCKERFILE = """\
FROM debian-minbase
ENV PATH=/opt/x/bin:$PATH
RUN useradd --create-home --uid 1000 app
RUN apt-get update && apt-get install -y --no-install-recommends hello \\
    && rm -rf /var/lib/apt/lists/*
COPY . /app
RUN mkdir -p /opt/x/bin && printf '#!/bin/sh\\necho from-opt-x\\n' > /opt/x/bin/greet \\
    && chmod 755 /opt/x/bin/greet
USER app
WORKDIR /home/app/work
CMD ["hello"]
"""
CONTEXT = {
    ".dockerignore": ".git\nnode_modules\n!node_modules/kept/index.js\n*.log\n!important.log\n",
    "Dockerfile": DOCKERFILE,
    "app.py": "print('app')\n",
    ".git/HEAD": "ref: refs/heads/main\n",
    "node_modules/dropped/index.js": "dropped\n",
    "node_modules/dropped/test/t.js": "dropped\n",
    "node_modules/kept/index.js": "kept\n",
    "node_modules/kept/README": "dropped\n",
    "debug.log": "dropped\n",
    "important.log": "kept\n",
}


@pytest.fixture(scope="module")
def driver() -> str:
    return "overlay"


@pytest.fixture(scope="module")
def debian_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tarball of Debian bookworm's minbase, straight from debootstrap (no Docker config)."""
    work = tmp_path_factory.mktemp("debian")
    subprocess.run(
        ["debootstrap", "--variant=minbase", "bookworm", str(work / "rootfs"), MIRROR],
        check=True,
        capture_output=True,
        timeout=900,
    )
    subprocess.run(
        [
            "tar",
            "-C",
            str(work / "rootfs"),
            "--numeric-owner",
            "--xattrs",
            "-cf",
            str(work / "rootfs.tar"),
            ".",
        ],
        check=True,
    )
    subprocess.run(["rm", "-rf", str(work / "rootfs")], check=True)
    return work / "rootfs.tar"


def test_real_world_dockerfile_on_imported_debian(bb, debian_rootfs, tmp_path):
    bb("import", str(debian_rootfs), "debian-minbase")
    assert not json.loads(bb("inspect", "--type", "image", "debian-minbase"))["Config"][
        "config"
    ].get("Env")
    context = tmp_path / "ctx"
    for name, text in CONTEXT.items():
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text(text)
    image = bb("build", "-q", "-t", "real-world", str(context), timeout=900).splitlines()[-1]

    config = json.loads(bb("inspect", "--type", "image", image))["Config"]["config"]
    assert config["Env"] == [
        "PATH=/opt/x/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    ]
    ctr = bb("from", image)
    assert bb("run", ctr, "--", "hello") == "Hello, world!"
    assert bb("run", ctr, "--", "greet") == "from-opt-x"
    assert bb("run", ctr, "--", "id", "-u") == "1000"
    assert bb("run", ctr, "--", "pwd") == "/home/app/work"
    assert bb("run", ctr, "--", "stat", "-c", "%u", "/home/app/work") == "1000"
    copied = bb("run", ctr, "--", "find", "/app", "-mindepth", "1").split()
    assert sorted(copied) == [
        "/app/.dockerignore",
        "/app/Dockerfile",
        "/app/app.py",
        "/app/important.log",
        "/app/node_modules",
        "/app/node_modules/kept",
        "/app/node_modules/kept/index.js",
    ]
