"""Hostile image archives and OCI layouts: nothing followed out, only regular files read, JSON
bounded and typed, every blob checked; deep trees unpack in linear time; outputs never
half-written."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from testbed import error_lines

# Every bb call here that could block (a FIFO, /dev/zero) gets this: a regression fails, not hangs.
QUICKLY = 60


@pytest.fixture
def driver() -> str:
    """Hostile input meets the same code on every driver: overlay only."""
    return "overlay"


def images(bb) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(bb("images", "-q", "--notruncate").split())


def refused(bb, *args: str) -> str:  # type: ignore[no-untyped-def]
    """Run bb expecting one `Error:` line (exit 125) and an untouched store; return that line."""
    before = images(bb)
    result = bb.run(*args, check=False, timeout=QUICKLY)
    assert result.returncode == 125, result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert images(bb) == before
    assert os.listdir(bb.root / "tmp") == []
    return lines[0]


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Layout:
    """An OCI layout of busybox that bb wrote, to be spoilt by a test."""

    def __init__(self, root: Path):
        self.root = root
        self.index = json.loads((root / "index.json").read_text())
        self.manifest_digest = self.index["manifests"][0]["digest"]
        self.manifest = json.loads(self.blob(self.manifest_digest).read_bytes())

    def blob(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / digest.split(":", 1)[1]

    @property
    def config(self) -> Path:
        return self.blob(self.manifest["config"]["digest"])

    def write_index(self, index: object) -> None:
        (self.root / "index.json").write_text(json.dumps(index))

    def write_manifest(self, manifest: object) -> None:
        """Store `manifest` as a blob and point the index at it (digest and size right)."""
        data = json.dumps(manifest).encode()
        self.blob(sha256(data)).write_bytes(data)
        self.write_index(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": sha256(data),
                        "size": len(data),
                        "annotations": {"org.opencontainers.image.ref.name": "t"},
                    }
                ],
            }
        )


@pytest.fixture
def layout(bb, tmp_path) -> Layout:  # type: ignore[no-untyped-def]
    root = tmp_path / "layout"
    bb("push", "busybox", f"oci:{root}:t")
    return Layout(root)


def test_layout_symlinks_do_not_lead_out(bb, layout, tmp_path):
    """index.json or a blob symlinked onto the host is resolved inside the layout (and missing)."""
    host_index = tmp_path / "host-index.json"
    shutil.move(layout.root / "index.json", host_index)
    (layout.root / "index.json").symlink_to(host_index)
    assert "index.json is missing" in refused(bb, "pull", f"oci:{layout.root}:t")
    (layout.root / "index.json").unlink()
    shutil.move(host_index, layout.root / "index.json")
    host_config = tmp_path / "host-config.json"
    shutil.move(layout.config, host_config)
    layout.config.symlink_to(os.path.relpath(host_config, layout.config.parent))
    assert "is missing" in refused(bb, "pull", f"oci:{layout.root}:t")
    layout.write_manifest(
        {**layout.manifest, "config": {**layout.manifest["config"], "digest": "sha256:../../../x"}}
    )
    assert "invalid digest" in refused(bb, "pull", f"oci:{layout.root}:t")


def test_fifos_and_devices_are_refused_at_once(bb, layout, tmp_path):
    """A FIFO would block the reader, /dev/zero feed it forever: neither is opened for reading."""
    config = layout.config
    config.unlink()
    os.mkfifo(config)
    assert "not a regular file" in refused(bb, "pull", f"oci:{layout.root}:t")
    config.unlink()
    os.mknod(config, 0o600 | 0o020000, os.makedev(1, 5))  # the node of /dev/zero
    assert "not a regular file" in refused(bb, "pull", f"oci:{layout.root}:t")
    config.unlink()
    config.symlink_to("/dev/zero")
    assert "missing" in refused(bb, "pull", f"oci:{layout.root}:t")
    index = layout.root / "index.json"
    index.unlink()
    os.mkfifo(index)
    assert "not a regular file" in refused(bb, "pull", f"oci:{layout.root}:t")
    # the same in archives: a FIFO named as docker-archive's config, a /dev/zero node as its layer
    for kind, device in ((tarfile.FIFOTYPE, None), (tarfile.CHRTYPE, (1, 5))):
        archive = tmp_path / f"special-{kind.decode()}.tar"
        with tarfile.open(archive, "w") as tar:
            special = tarfile.TarInfo("special")
            special.type = kind
            if device:
                special.devmajor, special.devminor = device
            tar.addfile(special)
            manifest = json.dumps(
                [{"Config": "special", "Layers": ["special"], "RepoTags": ["x:1"]}]
            ).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(manifest)
            tar.addfile(info, io.BytesIO(manifest))
        assert "not a regular file" in refused(bb, "load", "-i", str(archive))


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda layout: layout.write_index({"manifests": {"a": 1}}), "not a list"),
        (
            lambda layout: layout.write_index({"manifests": [{"digest": 5, "size": "x"}]}),
            "malformed descriptor",
        ),
        (
            lambda layout: layout.write_index({"manifests": [{"annotations": "x"}]}),
            "malformed descriptor",
        ),
        (lambda layout: layout.write_index([layout.index]), "not a JSON object"),
        (
            lambda layout: layout.write_index({"manifests": json.loads("[" * 100 + "]" * 100)}),
            "nested deeper",
        ),
        (
            lambda layout: (layout.root / "index.json").write_text(" " * (5 << 20) + "{}"),
            "larger than",
        ),
        (
            lambda layout: layout.write_manifest({**layout.manifest, "layers": 5}),
            "no config or layers",
        ),
        (
            lambda layout: layout.write_manifest({**layout.manifest, "config": []}),
            "malformed descriptor",
        ),
    ],
    ids=[
        "manifests-object",
        "descriptor-types",
        "annotations-string",
        "index-array",
        "too-deep",
        "too-big",
        "layers-number",
        "config-list",
    ],
)
def test_malformed_layout_json_is_one_error(bb, layout, spoil, message):
    spoil(layout)
    assert message in refused(bb, "pull", f"oci:{layout.root}:t")


def _docker_archive(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize(
    "manifest, message",
    [
        ([{"Config": "c.json", "Layers": [1]}], "malformed entry"),
        ([{"Config": "c.json", "Layers": [], "RepoTags": [1]}], "malformed entry"),
        ([{"Config": "c.json", "Layers": [], "RepoTags": "x:1"}], "malformed entry"),
        ([{"Config": ["c.json"], "Layers": []}], "malformed entry"),
        (["c.json"], "malformed entry"),
        ({"Config": "c.json"}, "not a JSON array"),
        ([{"Config": "c.json", "Layers": []}], "no list of rootfs.diff_ids"),
        ([{"Config": "../c.json", "Layers": []}], "escapes"),
    ],
    ids=[
        "layer-number",
        "tag-number",
        "tags-string",
        "config-list",
        "entry-string",
        "object",
        "config-types",
        "config-escapes",
    ],
)
def test_malformed_docker_archive_json_is_one_error(bb, tmp_path, manifest, message):
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": 5}}).encode()
    archive = _docker_archive(
        tmp_path / "bad.tar", {"c.json": config, "manifest.json": json.dumps(manifest).encode()}
    )
    assert message in refused(bb, "load", "-i", str(archive))


def test_every_blob_is_checked_against_its_descriptor(bb, layout):
    """A config swapped for another (its Env and Entrypoint) or a layer longer than its
    descriptor is refused."""
    original = layout.config.read_bytes()
    evil = json.loads(original)
    evil["config"]["Env"] = ["EVIL=1"]
    evil["config"]["Entrypoint"] = ["/bin/sh", "-c", "echo owned"]
    layout.config.write_bytes(json.dumps(evil).encode())
    assert "its descriptor says" in refused(bb, "pull", f"oci:{layout.root}:t")
    # same size, other content: the digest decides
    same_size = json.dumps(evil, separators=(",", ":")).encode()
    same_size = same_size[: len(original)].ljust(len(original), b" ")
    layout.config.write_bytes(same_size)
    assert "content digest" in refused(bb, "pull", f"oci:{layout.root}:t")
    layout.config.write_bytes(original)
    layer = layout.blob(layout.manifest["layers"][0]["digest"])
    with open(layer, "ab") as grown:
        grown.truncate(layer.stat().st_size + (1 << 30))  # a sparse GiB: refused without reading it
    assert "its descriptor says" in refused(bb, "pull", f"oci:{layout.root}:t")
    layer.write_bytes(b"\0" * layout.manifest["layers"][0]["size"])
    assert "content digest" in refused(bb, "pull", f"oci:{layout.root}:t")
    manifest = layout.blob(layout.manifest_digest)
    manifest.write_bytes(manifest.read_bytes().replace(b'"size"', b'"Size"'))
    assert "content digest" in refused(bb, "pull", f"oci:{layout.root}:t")


DEEP_CHAIN = """
import io, sys, tarfile, time
from bb.archive.extract import Whiteouts, extract_tar
buffer = io.BytesIO()
with tarfile.open(fileobj=buffer, mode="w:xz", format=tarfile.PAX_FORMAT) as tar:
    for depth in range(1, 2001):
        info = tarfile.TarInfo("/".join(["a"] * depth))
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
print(len(buffer.getvalue()), file=sys.stderr)
buffer.seek(0)
started = time.monotonic()
extract_tar(buffer, sys.argv[1], Whiteouts.APPLY)
print(time.monotonic() - started)
"""


def test_deep_directory_chain_unpacks_in_linear_time(tmp_path):
    """A 2,000-deep a/a/a/... chain (a 15 KiB xz tar) took ~15 min (cubic); now a few seconds."""
    root = (
        Path(os.path.realpath("/tmp")) / f"deep-{os.getpid()}"
    )  # short: the deepest path must fit PATH_MAX
    root.mkdir()
    try:
        result = subprocess.run(
            [sys.executable, "-c", DEEP_CHAIN, str(root)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert int(result.stderr) < 16 * 1024
        assert float(result.stdout) < 10
        assert (root / "/".join(["a"] * 2000)).is_dir()
    finally:
        subprocess.run(["rm", "-rf", str(root)], check=True)


@pytest.fixture
def big_image(bb) -> str:  # type: ignore[no-untyped-def]
    """An image with a 256 MiB layer: saving it takes long enough to be killed half-way."""
    ctr = bb("from", "busybox")
    bb("run", ctr, "--", "dd", "if=/dev/urandom", "of=/big", "bs=1M", "count=256")
    bb("commit", "--rm", ctr, "big")
    return "big"


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except FileNotFoundError:  # renamed into place meanwhile
        return 0


def _start_and_kill(bb, signal_number: int, *args: str, temps) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    """Start `bb args`, wait until it has written part of its output (a new one of `temps()`),
    signal it."""
    earlier = set(temps())
    process = subprocess.Popen(
        [bb.executable, *args],
        env=bb.env(),
        cwd=bb.cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not any(_size(temp) > (1 << 20) for temp in set(temps()) - earlier):
        assert process.poll() is None, "bb finished before it could be killed"
        assert time.monotonic() < deadline, "bb wrote no temp beside its output"
        time.sleep(0.005)
    process.send_signal(signal_number)
    process.wait(timeout=QUICKLY)
    return process


def test_save_killed_half_way_leaves_no_file(bb, big_image, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    archive = out / "images.tar"

    def temps() -> list[str]:
        return [str(out / name) for name in os.listdir(out) if name != "images.tar"]

    _start_and_kill(bb, signal.SIGKILL, "save", "-o", str(archive), big_image, temps=temps)
    assert not archive.exists()
    assert [os.path.basename(temp)[: len(".images.tar.bb-tmp-")] for temp in temps()] == [
        ".images.tar.bb-tmp-"
    ]
    killed = _start_and_kill(bb, signal.SIGTERM, "save", "-o", str(archive), big_image, temps=temps)
    assert killed.returncode == 128 + signal.SIGTERM, killed.stderr.read()
    assert os.listdir(out) == []  # its own temp removed, and the one the SIGKILL left
    bb("save", "-o", str(archive), big_image)
    assert os.listdir(out) == ["images.tar"]
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        assert manifest[0]["RepoTags"] == ["big:latest"]  # docker's short name (issue 18 item 6)
        layers = {
            member.name: member.size
            for member in tar.getmembers()
            if member.name.endswith("layer.tar")
        }
    assert max(layers.values()) > 256 << 20


def test_oci_layout_killed_half_way_is_cleaned_by_the_next_write(bb, big_image, tmp_path):
    layout = tmp_path / "layout"
    blobs = layout / "blobs" / "sha256"
    bb("push", "busybox", f"oci:{layout}:first")

    def temps() -> list[str]:
        names = [layout / name for name in os.listdir(layout)] + [
            blobs / name for name in os.listdir(blobs)
        ]
        return [str(path) for path in names if path.name.startswith(".")]

    _start_and_kill(bb, signal.SIGKILL, "push", big_image, f"oci:{layout}:big", temps=temps)
    assert temps() and all(".bb-tmp-" in temp for temp in temps())
    assert [
        m["annotations"]["org.opencontainers.image.ref.name"]
        for m in json.loads((layout / "index.json").read_text())["manifests"]
    ] == ["first"]
    bb("push", "busybox", f"oci:{layout}:second")
    assert temps() == []
    subprocess.run(["skopeo", "inspect", f"oci:{layout}:second"], capture_output=True, check=True)


def test_output_errors_name_the_users_path(bb, tmp_path):
    directory = tmp_path / "a-directory"
    directory.mkdir()
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN touch /built\n")
    subprocess.run(["mount", "--bind", str(read_only), str(read_only)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(read_only)], check=True)
        for args, path, reason in (
            (["save", "-o", str(directory), "busybox"], str(directory), "is a directory"),
            (
                ["save", "-o", f"{read_only}/x.tar", "busybox"],
                f"{read_only}/x.tar",
                "Read-only file system",
            ),
            (["save", "-o", "/proc/x.tar", "busybox"], "/proc/x.tar", "cannot create"),
            (
                ["push", "busybox", "oci-archive:/nonexistent/dir/x.tar"],
                "/nonexistent/dir/x.tar",
                "No such file or directory",
            ),
            (
                ["push", "busybox", f"docker-archive:{read_only}/y.tar"],
                f"{read_only}/y.tar",
                "Read-only",
            ),
            (["push", "busybox", f"oci:{read_only}/layout"], f"{read_only}/layout", "Read-only"),
            # bb build checks its -o archive before building (refused() sees no new image)
            (
                ["build", "-o", "oci-archive:/nonexistent/dir/x.tar", str(context)],
                "/nonexistent/dir/x.tar",
                "no such directory",
            ),
        ):
            error = refused(bb, *args)
            assert (
                path in error
                and reason in error
                and "bb-tmp" not in error
                and ".bb-archive" not in error
            ), error
        assert os.listdir(read_only) == [] and os.listdir(directory) == []
    finally:
        subprocess.run(["umount", str(read_only)], check=True)
