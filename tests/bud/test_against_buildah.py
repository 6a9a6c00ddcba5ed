"""bb build and `buildah bud` (Debian's buildah) build the same Dockerfiles into the same file
trees and configs.

Both images are written as docker-archives and read by the same code here, so neither tool's
inspect output is trusted: the trees (type, mode, owner, size, contents, link target; not mtimes)
and the runtime configs must be equal.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path
from typing import IO

import pytest

from testbed import BudCase, bud_cases, private_buildah

# The cases not compared here, and why
NOT_FOR_BUILDAH = {
    "heredocs": "buildah 1.28 (Debian's) predates heredocs",
    "onbuild": (
        "its base, onbuild-parent, is the image tests/functional/test_build.py builds "
        "from the instructions case"
    ),
    # docker keeps the backslash, as bb does
    "escape": "under `# escape=``, buildah 1.28 still drops the backslash of LABEL path=C:\\dir",
}
# the base of cases that need one without Env (tests/bud/README.md)
BARE = "bare"
CASES = [case for case in bud_cases() if case.name not in NOT_FOR_BUILDAH]

CONFIG_KEYS = [
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Volumes",
    "Labels",
    "StopSignal",
    "Healthcheck",
    "OnBuild",
    "Shell",
]
BUILDAH_ONLY_LABELS = {"io.buildah.version"}
# buildah leaves the mount points of RUN in the image, empty; bb removes those it had to create
RUN_MOUNT_POINTS = {"dev", "proc", "sys", "run", "etc/hostname", "etc/hosts", "etc/resolv.conf"}
EMPTY = hashlib.sha256(b"").hexdigest()


@pytest.fixture(scope="module")
def driver() -> str:
    return "overlay"


def _bb_env(base: Path) -> dict[str, str]:
    return {
        **os.environ,
        "BB_ROOT": str(base / "root"),
        "BB_RUNROOT": str(base / "run"),
        "BB_STORAGE_DRIVER": "overlay",
        "BB_CONFIG": os.devnull,
    }


@pytest.fixture(scope="module")
def bare_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A docker-archive of `bare`: busybox's tree made by `bb import`, so its config has no Env."""
    work = tmp_path_factory.mktemp("bare")
    rootfs = work / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "etc").mkdir()
    shutil.copy("/bin/busybox", rootfs / "bin" / "busybox")
    applets = subprocess.run(
        ["/bin/busybox", "--list"], check=True, capture_output=True, text=True
    ).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (rootfs / "bin" / applet).symlink_to("busybox")
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    with tarfile.open(work / "rootfs.tar", "w") as tar:
        tar.add(rootfs, arcname=".")
    env = _bb_env(work / "store")
    subprocess.run(
        ["bb", "import", str(work / "rootfs.tar"), BARE], env=env, check=True, capture_output=True
    )
    subprocess.run(
        ["bb", "save", "-o", str(work / "bare.tar"), BARE], env=env, check=True, capture_output=True
    )
    return work / "bare.tar"


@pytest.fixture(scope="module")
def buildah(busybox_stores, bare_archive, tmp_path_factory):  # type: ignore[no-untyped-def]
    """buildah on a private vfs store with the very busybox and bare images bb's tests build on."""
    work = tmp_path_factory.mktemp("buildah")
    archive = work / "busybox.tar"
    subprocess.run(
        ["bb", "save", "-o", str(archive), "busybox"],
        env=_bb_env(busybox_stores["overlay"]),
        check=True,
        capture_output=True,
    )
    with private_buildah(work) as command:
        for image, name in ((archive, "busybox"), (bare_archive, BARE)):
            pulled = subprocess.run(
                [*command, "pull", "-q", f"docker-archive:{image}"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            subprocess.run([*command, "tag", pulled, name], check=True, capture_output=True)
        yield command


def _member(archive: tarfile.TarFile, member: str | tarfile.TarInfo) -> IO[bytes]:
    """A regular file member's contents (extractfile gives None for other kinds)."""
    contents = archive.extractfile(member)
    assert contents is not None, member
    return contents


def image_from_archive(path: Path) -> tuple[dict, dict]:
    """(runtime config, merged file tree) of the one image in a docker-archive."""
    tree: dict[str, tuple] = {}
    with tarfile.open(path) as archive:
        manifest = json.load(_member(archive, "manifest.json"))[0]
        config = json.load(_member(archive, manifest["Config"]))
        for layer_name in manifest["Layers"]:
            with tarfile.open(fileobj=_member(archive, layer_name)) as layer:
                for member in layer:
                    name = member.name.rstrip("/").removeprefix("./")
                    directory, _, base = name.rpartition("/")
                    if base == ".wh..wh..opq":
                        tree = {p: v for p, v in tree.items() if not p.startswith(directory + "/")}
                    elif base.startswith(".wh."):
                        gone = f"{directory}/{base[4:]}" if directory else base[4:]
                        tree = {
                            p: v
                            for p, v in tree.items()
                            if p != gone and not p.startswith(gone + "/")
                        }
                    elif member.islnk():
                        # which of two hard-linked names a tar stores first is arbitrary: both show
                        # the file
                        tree[name] = tree[member.linkname.rstrip("/").removeprefix("./")]
                    else:
                        contents = _member(layer, member).read() if member.isreg() else b""
                        tree[name] = (
                            member.type,
                            stat.S_IMODE(member.mode),
                            member.uid,
                            member.gid,
                            hashlib.sha256(contents).hexdigest(),
                            member.linkname if member.issym() else "",
                        )
    return config.get("config") or {}, tree


def mount_parents(case: BudCase) -> set[str]:
    """The directories above each RUN --mount target: buildah leaves those it made, bb does not."""
    parents: set[str] = set()
    for target in re.findall(
        r"--mount=\S*?target=([^,\s]+)", (case.context / "Dockerfile").read_text()
    ):
        parts = target.strip("/").split("/")[:-1]
        parents.update("/".join(parts[: depth + 1]) for depth in range(len(parts)))
    return parents


def normalized(config: dict) -> dict:
    result = {}
    for key in CONFIG_KEYS:
        value = config.get(key)
        if key == "Labels" and value:
            value = {k: v for k, v in value.items() if k not in BUILDAH_ONLY_LABELS}
        result[key] = value or None  # absent, null and empty mean the same
    return result


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_same_tree_and_config_as_buildah(bb, buildah, bare_archive, tmp_path, case: BudCase):
    tag = f"parity-{case.name}"
    if re.search(rf"^FROM\s+{BARE}\b", (case.context / "Dockerfile").read_text(), re.MULTILINE):
        bb("load", "-i", str(bare_archive))
    bb("build", "-q", "--format", "docker", "-t", tag, *case.arguments, str(case.context))
    bb("save", "-o", str(tmp_path / "bb.tar"), tag)
    result = subprocess.run(
        [
            *buildah,
            "bud",
            "-q",
            "--isolation",
            "chroot",
            "--format",
            "docker",
            "-t",
            tag,
            *case.arguments,
            str(case.context),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    subprocess.run(
        [*buildah, "push", "-q", tag, f"docker-archive:{tmp_path / 'buildah.tar'}"],
        check=True,
        capture_output=True,
    )
    bb_config, bb_tree = image_from_archive(tmp_path / "bb.tar")
    buildah_config, buildah_tree = image_from_archive(tmp_path / "buildah.tar")
    # buildah also makes a directory for a VOLUME given in JSON form
    volumes = {path.strip("/") for path in buildah_config.get("Volumes") or {}}
    for path in (RUN_MOUNT_POINTS | volumes | mount_parents(case)) - set(bb_tree):
        if path in buildah_tree and buildah_tree[path][4] == EMPTY:  # an empty file or a directory
            del buildah_tree[path]
    assert normalized(bb_config) == normalized(buildah_config)
    only_bb, only_buildah = (
        sorted(set(bb_tree) - set(buildah_tree)),
        sorted(set(buildah_tree) - set(bb_tree)),
    )
    assert (only_bb, only_buildah) == ([], [])
    differing = {
        path: (bb_tree[path], buildah_tree[path])
        for path in bb_tree
        if bb_tree[path] != buildah_tree[path]
    }
    assert differing == {}
