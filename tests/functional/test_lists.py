"""bb containers, bb images, bb inspect."""

import json
import subprocess

import pytest

from testbed import private_buildah


def test_containers_listing(bb):
    ctr = bb("from", "busybox")
    table = bb("containers").splitlines()
    assert table[0].split() == [
        "CONTAINER",
        "ID",
        "BUILDER",
        "IMAGE",
        "ID",
        "IMAGE",
        "NAME",
        "CONTAINER",
        "NAME",
    ]
    assert table[1].split()[-1] == ctr and len(table[1].split()[0]) == 12
    assert len(bb("containers", "-q", "--notruncate")) == 64
    listed = json.loads(bb("containers", "--json"))
    assert listed[0]["containername"] == ctr and listed[0]["imagename"] == "busybox"
    assert len(bb("containers", "--noheading").splitlines()) == 1


def test_images_listing(bb):
    bb("tag", "busybox", "other:1.0")
    rows = bb("images", "--noheading").splitlines()
    assert {tuple(row.split()[:2]) for row in rows} == {
        ("localhost/busybox", "latest"),
        ("localhost/other", "1.0"),
    }
    assert len(set(bb("images", "-q").splitlines())) == 1
    listed = json.loads(bb("images", "--json"))
    assert sorted(listed[0]["names"]) == ["localhost/busybox:latest", "localhost/other:1.0"]
    assert bb("images", "--noheading", "other:1.0").split()[:2] == ["localhost/other", "1.0"]


def test_inspect_container_and_image(bb):
    ctr = bb("from", "busybox")
    document = json.loads(bb("inspect", ctr))
    assert document["Container"] == ctr and document["FromImage"] == "busybox"
    assert document["Config"]["Cmd"] == ["/bin/sh"]
    assert bb("inspect", "--format", "{{.Container}} {{.FromImage}}", ctr) == f"{ctr} busybox"
    image = json.loads(bb("inspect", "busybox"))
    assert image["Names"] == ["localhost/busybox:latest"]
    assert 'image "nope" not known' in bb.fails("inspect", "nope")
    assert "--type" in bb.fails("inspect", "--type", "volume", ctr)


# Every command that names an image or a container, naming one that does not exist
MISSING_NAMES = [
    ["images", "nomatch"],
    ["images", "-q", "nomatch"],
    ["images", "--json", "nomatch"],
    ["images", "--noheading", "nomatch"],
    ["inspect", "nomatch"],
    ["inspect", "--type", "image", "nomatch"],
    ["inspect", "--type", "container", "nomatch"],
    ["tag", "nomatch", "other"],
    ["rmi", "nomatch"],
    ["rm", "nomatch"],
    ["mount", "nomatch"],
    ["umount", "nomatch"],
]


@pytest.mark.parametrize("args", MISSING_NAMES, ids=" ".join)
def test_a_missing_name_is_an_error_as_in_buildah(bb, tmp_path, args):
    with private_buildah(tmp_path / "buildah") as buildah:
        peer = subprocess.run([*buildah, *args], capture_output=True, text=True, check=False)
    ours = bb.run(*args, check=False)
    assert (ours.returncode, ours.stdout) == (peer.returncode, peer.stdout) == (125, "")
    assert "not known" in peer.stderr and "not known" in ours.stderr
