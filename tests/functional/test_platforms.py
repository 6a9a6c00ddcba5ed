"""Building and starting from images of a platform other than this machine's, without running any
of its programs (tests/transports/test_multiarch.py runs them under qemu-user)."""

import json
import platform

import pytest

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64", reason="an x86_64 host")


def image_config(bb, image: str) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(bb("inspect", "--type", "image", image))["Config"]


def test_from_refuses_an_image_of_another_platform(bb):
    containers = bb("containers", "-q")
    message = bb.fails("from", "--platform", "linux/arm64", "busybox")
    assert 'image "busybox" is for linux/amd64, not linux/arm64' in message
    assert message.count("Error:") == 1
    assert bb("containers", "-q") == containers
    assert bb("from", "--arch", "amd64", "busybox") == "busybox-working-container"


def test_build_refuses_a_base_of_another_platform(bb, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN true\n")
    images = bb("images", "-q")
    message = bb.fails("build", "--arch", "arm64", str(tmp_path))
    assert "Dockerfile:1: FROM: " in message and "is for linux/amd64, not linux/arm64" in message
    assert bb("images", "-q") == images


def test_scratch_and_import_record_the_platform(bb, tmp_path):
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "Dockerfile").write_text(
        "FROM scratch\nARG TARGETPLATFORM TARGETVARIANT BUILDARCH\n"
        'LABEL target="$TARGETPLATFORM" variant="$TARGETVARIANT" build="$BUILDARCH"\n'
        "COPY a.txt /\n"
    )
    image = bb("build", "-q", "--platform", "linux/arm/v6", "-t", "arm", str(tmp_path))
    config = image_config(bb, image)
    assert (config["architecture"], config["os"], config["variant"]) == ("arm", "linux", "v6")
    assert config["config"]["Labels"] == {
        "target": "linux/arm/v6",
        "variant": "v6",
        "build": "amd64",
    }
    tarball = tmp_path / "rootfs.tar"
    import tarfile

    with tarfile.open(tarball, "w") as archive:
        archive.add(tmp_path / "a.txt", "a.txt")
    imported = bb("import", "--platform", "linux/arm64", str(tarball), "rootfs:arm64")
    config = image_config(bb, imported)
    assert (config["architecture"], config["os"]) == ("arm64", "linux")
    assert "variant" not in config


def test_several_platforms_go_into_one_manifest_list(bb, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY Dockerfile /\n")
    context = str(tmp_path)
    assert "needs --manifest NAME" in bb.fails(
        "build", "--platform", "linux/arm64,linux/s390x", context
    )
    assert "-t names one image" in bb.fails(
        "build", "--platform", "linux/arm64,linux/s390x", "--manifest", "l", "-t", "x", context
    )
    assert "--iidfile" in bb.fails(
        "build", "--platform", "linux/arm64,linux/s390x", "--iidfile", "f", context
    )
    ids = bb("build", "-q", "--platform", "linux/arm64,linux/s390x", "--manifest", "l", context)
    first = json.loads(bb("manifest", "inspect", "l"))
    assert [m["platform"]["architecture"] for m in first["manifests"]] == ["arm64", "s390x"]
    assert len(ids.splitlines()) == 2
    # built again, a platform's image replaces the list's entry for it; the list keeps its
    # images from `bb rmi --prune` although they have no name
    again = bb(
        "build", "-q", "--platform", "linux/s390x", "--manifest", "l", "--timestamp", "1", context
    )
    bb("rmi", "--prune")
    second = json.loads(bb("manifest", "inspect", "l"))
    assert [m["platform"]["architecture"] for m in second["manifests"]] == ["arm64", "s390x"]
    assert second["manifests"][0] == first["manifests"][0]
    assert image_config(bb, again)["architecture"] == "s390x"
    assert again != ids.splitlines()[1]
