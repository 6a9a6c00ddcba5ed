"""bb build and `buildah bud` (Debian's buildah) build the same Dockerfiles into the same file trees and configs.

Both images are written as docker-archives and read by the same code here, so neither tool's
inspect output is trusted: the trees (type, mode, owner, size, contents, link target; not mtimes)
and the runtime configs must be equal.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import tarfile
from typing import IO
from pathlib import Path

import pytest

# name -> (Dockerfile, {context file: contents}, extra build arguments)
CORPUS: dict[str, tuple[str, dict[str, str], list[str]]] = {
    "run-shell": ("FROM busybox\nRUN echo hello > /hello && mkdir -p /a/b/c && touch /a/b/c/d\n", {}, []),
    "run-exec": ('FROM busybox\nRUN ["/bin/sh", "-c", "echo exec > /exec"]\n', {}, []),
    "env": ("FROM busybox\nENV A=1 B=\"two words\"\nENV C $A-x\nRUN echo $A $B $C > /env\n", {}, []),
    "arg-default": ("FROM busybox\nARG V=default\nRUN echo $V > /v\n", {}, []),
    "arg-override": ("FROM busybox\nARG V=default\nRUN echo $V > /v\n", {}, ["--build-arg", "V=given"]),
    "arg-before-from": ("ARG BASE=busybox\nFROM $BASE\nARG BASE\nRUN echo $BASE > /base\n", {}, []),
    "copy-file": ("FROM busybox\nCOPY a.txt /dest/\nCOPY a.txt /renamed.txt\n", {"a.txt": "a\n"}, []),
    "copy-dir": ("FROM busybox\nCOPY dir /copied\n", {"dir/x": "x\n", "dir/sub/y": "y\n"}, []),
    "copy-glob": ("FROM busybox\nCOPY *.cfg /etc/app/\n", {"one.cfg": "1\n", "two.cfg": "2\n", "skip.txt": "s\n"}, []),
    "copy-chown": ("FROM busybox\nCOPY --chown=65534:65534 a.txt /owned\nCOPY --chown=1000 dir /ownd\n",
                   {"a.txt": "a\n", "dir/f": "f\n"}, []),
    "copy-chmod": ("FROM busybox\nCOPY --chmod=0700 a.txt /private\n", {"a.txt": "a\n"}, []),
    "copy-multiple": ("FROM busybox\nCOPY a.txt b.txt /both/\n", {"a.txt": "a\n", "b.txt": "b\n"}, []),
    "add-file": ("FROM busybox\nADD a.txt /added\n", {"a.txt": "added\n"}, []),
    "workdir": ("FROM busybox\nWORKDIR /srv/app\nRUN pwd > here\nWORKDIR rel\nCOPY a.txt .\n", {"a.txt": "a\n"}, []),
    "user": ("FROM busybox\nRUN mkdir -p /home/nobody && chown 65534 /home/nobody\nUSER nobody\nRUN id -u > /home/nobody/uid\n", {}, []),
    "cmd-entrypoint": ('FROM busybox\nENTRYPOINT ["/bin/echo"]\nCMD ["hello"]\n', {}, []),
    "cmd-shell": ("FROM busybox\nCMD echo shell form\n", {}, []),
    "entrypoint-shell": ("FROM busybox\nENTRYPOINT exec top -b\n", {}, []),
    "expose-volume": ('FROM busybox\nEXPOSE 80 443/tcp 53/udp\nVOLUME /data /logs\nVOLUME ["/cache"]\n', {}, []),
    "labels": ('FROM busybox\nLABEL a=1 "b c"="d e"\nLABEL multi="x \\\n  y"\n', {}, []),
    "stopsignal": ("FROM busybox\nSTOPSIGNAL SIGTERM\n", {}, []),
    "healthcheck": ("FROM busybox\nHEALTHCHECK --interval=5s --timeout=3s --retries=2 CMD wget -q -O- localhost || exit 1\n", {}, []),
    "healthcheck-none": ("FROM busybox\nHEALTHCHECK NONE\n", {}, []),
    "shell": ('FROM busybox\nSHELL ["/bin/sh", "-e", "-c"]\nRUN echo shell > /shell\n', {}, []),
    "onbuild": ("FROM busybox\nONBUILD RUN echo triggered > /triggered\nONBUILD COPY a.txt /\n", {}, []),
    "multistage": ("FROM busybox AS builder\nRUN echo built > /artifact\nFROM busybox\nCOPY --from=builder /artifact /artifact\n", {}, []),
    "multistage-index": ("FROM busybox\nRUN echo zero > /z\nFROM busybox\nCOPY --from=0 /z /from-zero\n", {}, []),
    "target": ("FROM busybox AS first\nRUN echo first > /first\nFROM first AS second\nRUN echo second > /second\n"
               "FROM busybox\nRUN echo third > /third\n", {}, ["--target", "second"]),
    "delete-and-replace": ("FROM busybox\nRUN rm -rf /usr/sbin && rm /bin/ls && mkdir /bin/ls\nRUN ln -s /tmp /link\n", {}, []),
    "dockerignore": ("FROM busybox\nCOPY . /ctx\n", {".dockerignore": "*.log\n!keep.log\nsecret\n", "a.log": "x\n",
                                                      "keep.log": "k\n", "secret": "s\n", "code.c": "c\n"}, []),
    # (no heredocs: Debian's buildah predates them; tests/bud/heredocs covers them)
    "escape-directive": ("# escape=`\nFROM busybox\nRUN echo a `\n  b > /ab\nCOPY [\"a.txt\", \"/win/\"]\n", {"a.txt": "a\n"}, []),
    "expansion": ("FROM busybox\nARG U\nENV D=${U:-fallback} S=${D:+set} Q='$D' E=\\$D\nRUN echo $D $S $Q $E > /expanded\n", {}, []),
    "copy-from-image": ("FROM scratch\nCOPY --from=busybox /bin/busybox /busybox\n", {}, []),
    "hardlinks-setuid": ("FROM busybox\nRUN echo x > /f && ln /f /g && chmod 4755 /f && mkfifo /fifo\n", {}, []),
}

CONFIG_KEYS = ["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes", "Labels", "StopSignal",
               "Healthcheck", "OnBuild", "Shell"]
BUILDAH_ONLY_LABELS = {"io.buildah.version"}
# buildah leaves the mount points of RUN in the image, empty; bb removes those it had to create
RUN_MOUNT_POINTS = {"dev", "proc", "sys", "run", "etc/hostname", "etc/hosts", "etc/resolv.conf"}
EMPTY = hashlib.sha256(b"").hexdigest()


@pytest.fixture(scope="module")
def driver() -> str:
    return "overlay"


@pytest.fixture(scope="module")
def buildah(busybox_stores, tmp_path_factory):  # type: ignore[no-untyped-def]
    """buildah on a private vfs store holding the very busybox image bb's tests build on."""
    work = tmp_path_factory.mktemp("buildah")
    command = ["buildah", "--root", str(work / "root"), "--runroot", str(work / "run"), "--storage-driver", "vfs"]
    template = busybox_stores["overlay"]
    bb_env = {**os.environ, "BB_ROOT": str(template / "root"), "BB_RUNROOT": str(template / "run"),
              "BB_STORAGE_DRIVER": "overlay", "BB_CONFIG": os.devnull}
    archive = work / "busybox.tar"
    subprocess.run(["bb", "save", "-o", str(archive), "busybox"], env=bb_env, check=True, capture_output=True)
    subprocess.run([*command, "pull", "-q", f"docker-archive:{archive}"], check=True, capture_output=True)
    subprocess.run([*command, "tag", "localhost/busybox:latest", "busybox"], check=True, capture_output=True)
    yield command
    subprocess.run([*command, "rm", "--all"], capture_output=True)
    subprocess.run([*command, "rmi", "--all", "--force"], capture_output=True)


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
                        tree = {p: v for p, v in tree.items() if p != gone and not p.startswith(gone + "/")}
                    elif member.islnk():
                        # which of two hard-linked names a tar stores first is arbitrary: both show the file
                        tree[name] = tree[member.linkname.rstrip("/").removeprefix("./")]
                    else:
                        contents = _member(layer, member).read() if member.isreg() else b""
                        tree[name] = (member.type, stat.S_IMODE(member.mode), member.uid, member.gid,
                                      hashlib.sha256(contents).hexdigest(), member.linkname if member.issym() else "")
    return config.get("config") or {}, tree


def normalized(config: dict) -> dict:
    result = {}
    for key in CONFIG_KEYS:
        value = config.get(key)
        if key == "Labels" and value:
            value = {k: v for k, v in value.items() if k not in BUILDAH_ONLY_LABELS}
        result[key] = value or None  # absent, null and empty mean the same
    return result


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_same_tree_and_config_as_buildah(bb, buildah, tmp_path, case):
    dockerfile, files, arguments = CORPUS[case]
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    for name, text in files.items():
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text(text)
    bb("build", "-q", "--format", "docker", "-t", f"parity-{case}", *arguments, str(context))
    bb("save", "-o", str(tmp_path / "bb.tar"), f"parity-{case}")
    result = subprocess.run([*buildah, "bud", "-q", "--isolation", "chroot", "--format", "docker", "-t", f"parity-{case}",
                             *arguments, str(context)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    subprocess.run([*buildah, "push", "-q", f"parity-{case}", f"docker-archive:{tmp_path / 'buildah.tar'}"],
                   check=True, capture_output=True)
    bb_config, bb_tree = image_from_archive(tmp_path / "bb.tar")
    buildah_config, buildah_tree = image_from_archive(tmp_path / "buildah.tar")
    # buildah also makes a directory for a VOLUME given in JSON form
    volumes = {path.strip("/") for path in buildah_config.get("Volumes") or {}}
    for path in (RUN_MOUNT_POINTS | volumes) - set(bb_tree):
        if path in buildah_tree and buildah_tree[path][4] == EMPTY:  # an empty file or a directory
            del buildah_tree[path]
    assert normalized(bb_config) == normalized(buildah_config)
    only_bb, only_buildah = sorted(set(bb_tree) - set(buildah_tree)), sorted(set(buildah_tree) - set(bb_tree))
    assert (only_bb, only_buildah) == ([], [])
    differing = {path: (bb_tree[path], buildah_tree[path]) for path in bb_tree if bb_tree[path] != buildah_tree[path]}
    assert differing == {}
