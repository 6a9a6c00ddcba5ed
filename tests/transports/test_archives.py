"""save / load / import and the docker-archive, oci and oci-archive transports."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile

import pytest

from testbed import error_lines


def images(bb):
    return sorted(bb("images", "-q", "--notruncate").split())


def second_image(bb):
    ctr = bb("from", "busybox")
    bb("run", ctr, "--", "sh", "-c", "echo second > /second")
    return bb("commit", "--rm", ctr, "second:v2")


def test_save_and_load_docker_archive(bb, empty_store_factory, tmp_path):
    second = second_image(bb)
    bb("tag", "busybox", "busybox:extra")
    archive = tmp_path / "images.tar"
    busybox_id = bb("images", "-q", "--notruncate", "busybox")
    bb("save", "-o", str(archive), "busybox", "busybox:extra", second[:12])
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    # short names are written short (localhost/ is where bb keeps them), as docker users type them
    assert sorted(manifest[0]["RepoTags"]) == ["busybox:extra", "busybox:latest"]
    assert manifest[1]["RepoTags"] == ["second:v2"]
    other = empty_store_factory("other", "overlay")
    out = other("load", "-i", str(archive))
    assert "Loaded image: localhost/second:v2" in out
    assert images(other) == sorted([busybox_id, second])
    assert other.run_in("second:v2", "cat /second") == "second"


def test_oci_archive_and_layout_with_umoci_and_skopeo(bb, empty_store_factory, tmp_path):
    archive = tmp_path / "busybox-oci.tar"
    # compressed as `push oci:` compresses: the two give the same manifest, byte for byte
    bb("save", "--compress", "--format", "oci", "-o", str(archive), "busybox")
    layout = tmp_path / "layout"
    bb("push", "busybox", f"oci:{layout}:mytag")
    inspected = json.loads(
        subprocess.run(
            ["skopeo", "inspect", f"oci:{layout}:mytag"], check=True, capture_output=True, text=True
        ).stdout
    )
    assert inspected["Architecture"] == "amd64"
    from_archive = json.loads(
        subprocess.run(
            ["skopeo", "inspect", f"oci-archive:{archive}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    assert from_archive["Digest"] == inspected["Digest"]
    bundle = tmp_path / "bundle"
    subprocess.run(
        ["umoci", "unpack", "--image", f"{layout}:mytag", str(bundle)],
        check=True,
        capture_output=True,
    )
    unpacked = sorted(os.listdir(bundle / "rootfs"))
    assert "bin" in unpacked and "etc" in unpacked
    mounted = bb("mount", ctr := bb("from", "busybox"))
    assert sorted(os.listdir(mounted)) == unpacked
    assert os.readlink(bundle / "rootfs" / "bin" / "sh") == os.readlink(
        os.path.join(mounted, "bin", "sh")
    )
    bb("umount", ctr)
    other = empty_store_factory("other", "overlay")
    other("load", "-i", str(archive))
    other("pull", f"oci:{layout}:mytag")
    assert other.run_in("layout:mytag", "echo ok") == "ok"
    assert len(images(other)) == 1


def _members(archive):
    with tarfile.open(archive) as tar:
        return {member.name: tar.extractfile(member).read() for member in tar if member.isfile()}


def test_save_compress_and_build_output_compress_layers(bb, empty_store_factory, tmp_path):
    """save --compress and -o oci-archive: write gzip layers; image IDs stay what they were."""
    image_id = bb("images", "-q", "--notruncate", "busybox")
    plain, packed = tmp_path / "plain.tar", tmp_path / "packed.tar"
    bb("save", "-o", str(plain), "busybox")
    bb("save", "--compress", "-o", str(packed), "busybox")
    layers = {name: data for name, data in _members(packed).items() if name.endswith("layer.tar")}
    assert layers and all(data[:2] == b"\x1f\x8b" for data in layers.values())
    assert os.path.getsize(packed) < os.path.getsize(plain)
    inspected = subprocess.run(
        ["skopeo", "inspect", "--config", f"docker-archive:{packed}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert json.loads(inspected)["rootfs"]["diff_ids"] == [
        "sha256:" + name.split("/")[0] for name in layers
    ]
    other = empty_store_factory("other", "overlay")
    other("load", "-i", str(packed))
    assert images(other) == [image_id]

    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo built > /built\n")
    built = tmp_path / "built.tar"
    built_id = bb("build", "-q", "--timestamp", "0", "-o", f"oci-archive:{built}:v1", str(context))
    members = _members(built)
    index = json.loads(members["index.json"])
    manifest = json.loads(members["blobs/sha256/" + index["manifests"][0]["digest"][7:]])
    assert manifest["config"]["digest"] == f"sha256:{built_id}"
    assert {layer["mediaType"] for layer in manifest["layers"]} == {
        "application/vnd.oci.image.layer.v1.tar+gzip"
    }
    bundle = tmp_path / "bundle"
    layout = tmp_path / "layout"
    layout.mkdir()
    subprocess.run(["tar", "-xf", str(built), "-C", str(layout)], check=True)
    subprocess.run(
        ["umoci", "unpack", "--image", f"{layout}:v1", str(bundle)], check=True, capture_output=True
    )
    assert (bundle / "rootfs" / "built").read_text() == "built\n"


def test_oci_archives_load_back_under_their_names(bb, empty_store_factory, tmp_path):
    """oci-archives bb writes (save --format oci, -o oci-archive:PATH:NAME:TAG) load by name."""
    second = second_image(bb)
    saved = tmp_path / "saved-file.tar"
    bb("save", "--format", "oci", "-o", str(saved), "busybox", "second:v2")
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo built > /built\n")
    built = tmp_path / "o2"
    bb("build", "-q", "-o", f"oci-archive:{built}:foo:latest", str(context))
    other = empty_store_factory("other", "overlay")
    assert other("load", "-i", str(saved)).splitlines() == [
        "Loaded image: localhost/busybox:latest",
        "Loaded image: localhost/second:v2",
    ]
    assert other("images", "-q", "--notruncate", "second:v2") == second
    assert other("load", "-i", str(built)) == "Loaded image: localhost/foo:latest"
    assert other.run_in("foo:latest", "cat /built") == "built"
    names = [name for image in json.loads(other("images", "--json")) for name in image["names"]]
    assert sorted(names) == [
        "localhost/busybox:latest",
        "localhost/foo:latest",
        "localhost/second:v2",
    ]


@pytest.mark.parametrize("compression", ["", "gz", "xz"])
def test_import_rootfs_tarball(bb, tmp_path, compression):
    mounted = bb("mount", ctr := bb("from", "busybox"))
    tarball = tmp_path / f"rootfs.tar{'.' + compression if compression else ''}"
    subprocess.run(["tar", "-C", mounted, "-caf", str(tarball), "."], check=True)
    bb("umount", ctr)
    image_id = bb("import", str(tarball), f"imported:{compression or 'plain'}")
    assert bb.run_in(image_id, "echo imported") == "imported"
    config = json.loads(bb("inspect", "--type", "image", image_id))["Config"]
    assert len(config["rootfs"]["diff_ids"]) == 1


def _archive_with(tmp_path, name, members):
    path = tmp_path / name
    with tarfile.open(path, "w") as tar:
        for member_name, data in members:
            info = tarfile.TarInfo(member_name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_bad_archives_leave_the_store_unchanged(bb, tmp_path):
    good = tmp_path / "good.tar"
    bb("save", "-o", str(good), "busybox")
    before = images(bb)
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    corrupt = tmp_path / "corrupt.tar"
    corrupt.write_bytes(b"\x00garbage" * 1000)
    with tarfile.open(good) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    layer_name = next(name for name in members if name.endswith("layer.tar"))
    tampered = dict(members)
    tampered[layer_name] = members[layer_name][:-1024] + b"\x01" * 1024
    mismatch = _archive_with(tmp_path, "mismatch.tar", list(tampered.items()))
    escaping = _archive_with(tmp_path, "escape.tar", [("../../escaped", b"x"), *members.items()])
    for path, message in (
        (truncated, "tar"),
        (corrupt, "corrupt.tar: reading tar archive"),
        (mismatch, "does not match"),
        (escaping, "escapes"),
        (tmp_path / "missing.tar", "no such file"),
    ):
        error = bb.fails("load", "-i", str(path))
        assert message in error, error
        assert len(error_lines(error)) == 1, error
        assert images(bb) == before
        assert os.listdir(bb.root / "tmp") == []
    assert not (tmp_path.parent / "escaped").exists()
    assert "lowercase" in bb.fails("import", str(good), "Upper:case")
    assert images(bb) == before


def test_ctr_img_spelling(bb, tmp_path):
    archive = tmp_path / "ctr.tar"
    bb("ctr-img", "save", "busybox", "-o", str(archive))
    bb("ctr-img", "tag", "busybox", "renamed:1")
    assert ["renamed", "1"] in [line.split()[:2] for line in bb("ctr-img", "images").splitlines()]
    bb("ctr-img", "rm", "renamed:1")
    bb("ctr-img", "load", "-i", str(archive))
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo isula > /isula\n")
    out_archive = tmp_path / "built.tar"
    bb(
        "ctr-img",
        "build",
        "-f",
        str(context / "Dockerfile"),
        "-o",
        f"docker-archive:{out_archive}:isula/built:1",
        str(context),
    )
    with tarfile.open(out_archive) as tar:
        assert json.load(tar.extractfile("manifest.json"))[0]["RepoTags"] == [
            "localhost/isula/built:1"
        ]
    error = bb.fails("push", "busybox", "isulad:busybox:1")
    assert "isula" in error and "install" in error
