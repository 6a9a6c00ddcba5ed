"""bb commit."""

import hashlib
import json
import os
import tarfile

import pytest


def inspect_image(bb, image):
    return json.loads(bb("inspect", "--type", "image", image))


def layer_names(bb, diff_id):
    return tarfile.open(bb.root / "blobs" / "sha256" / diff_id.split(":")[1]).getnames()


def test_commit_adds_one_layer_and_prints_the_config_digest(bb, tmp_path):
    base = inspect_image(bb, "busybox")
    ctr = bb("from", "busybox")
    bb("run", ctr, "--", "sh", "-c", "echo new > /new; rm /etc/group")
    iidfile = tmp_path / "iid"
    image_id = bb("commit", "--iidfile", str(iidfile), ctr, "example:v1")
    assert iidfile.read_text() == f"sha256:{image_id}"
    image = inspect_image(bb, "example:v1")
    assert image["Id"] == image_id
    config_blob = (bb.root / "blobs" / "sha256" / image_id).read_bytes()
    assert hashlib.sha256(config_blob).hexdigest() == image_id
    assert image["Layers"][:-1] == base["Layers"]
    assert len(image["Layers"]) == len(base["Layers"]) + 1
    assert layer_names(bb, image["Layers"][-1]) == ["etc", "etc/.wh.group", "new"]
    assert image["Names"] == ["localhost/example:v1"]
    history = image["Config"]["history"]
    assert len([h for h in history if not h.get("empty_layer")]) == len(image["Layers"])
    manifest = image["Manifest"]
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert [layer["digest"] for layer in manifest["layers"]] == image["Layers"]
    # the container lives on and can be committed again
    assert ctr in bb("containers", "--noheading")


def test_commit_docker_format_squash_and_rm(bb):
    ctr = bb("from", "busybox")
    bb("run", ctr, "--", "touch", "/marker")
    image_id = bb("commit", "--format", "docker", "--squash", "--rm", ctr, "squashed")
    image = inspect_image(bb, image_id)
    assert image["Manifest"]["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert len(image["Layers"]) == 1
    assert "marker" in layer_names(bb, image["Layers"][0])
    assert "bin/busybox" in layer_names(bb, image["Layers"][0])
    assert bb("containers", "-q") == ""


def test_commit_without_changes_adds_no_layer(bb):
    base = inspect_image(bb, "busybox")
    ctr = bb("from", "busybox")
    bb("config", "--label", "only=config", ctr)
    image = inspect_image(bb, bb("commit", ctr))
    assert image["Layers"] == base["Layers"]
    assert image["Names"] == []


def test_commit_timestamp_is_reproducible(bb, tmp_path):
    (tmp_path / "f").write_text("same")
    ids = []
    for name in ("one", "two"):
        ctr = bb("from", "busybox")
        bb("copy", ctr, str(tmp_path / "f"), "/f")
        bb("run", ctr, "--", "sh", "-c", "cat /proc/sys/kernel/random/uuid > /now")
        ids.append(bb("commit", "--timestamp", "1700000000", "--rm", ctr, name))
    layers = [inspect_image(bb, image)["Layers"] for image in ids]
    assert layers[0] != layers[1]  # /now differs, so the layers do
    for name in ("three", "four"):
        ctr = bb("from", "busybox")
        bb("copy", ctr, str(tmp_path / "f"), "/f")
        ids.append(bb("commit", "--timestamp", "1700000000", "--rm", ctr, name))
    assert ids[2] == ids[3]


def test_commit_names_move_between_images(bb):
    first = bb("commit", bb("from", "busybox"), "moving")
    ctr = bb("from", "busybox")
    bb("run", ctr, "--", "touch", "/x")
    second = bb("commit", ctr, "moving")
    assert inspect_image(bb, "moving")["Id"] == second
    assert inspect_image(bb, first)["Names"] == []


def test_commit_bad_input(bb):
    assert 'container "nope" not known' in bb.fails("commit", "nope", "img")
    ctr = bb("from", "busybox")
    assert "lowercase" in bb.fails("commit", ctr, "Upper/Case")
    assert "--format" in bb.fails("commit", "--format", "zip", ctr, "img")
    assert bb("images", "-q").count("\n") == 0


def store_inodes(bb, name):
    """Inode numbers of every file called `name` anywhere in the store (layers and containers)."""
    return sorted(path.lstat().st_ino for path in bb.root.rglob(name) if path.is_file())


def test_commit_rm_hands_the_containers_files_to_the_layer(bb):
    ctr = bb("from", "busybox")
    inode = int(bb("run", ctr, "--", "sh", "-c", "echo mine > /handed && stat -c %i /handed"))
    bb("commit", "--rm", ctr, "handed")
    assert store_inodes(bb, "handed") == [
        inode
    ]  # the very file the container wrote, now the layer's only
    assert bb.run_in("handed", "cat /handed") == "mine"


@pytest.mark.parametrize("driver", ["overlay"])
def test_commit_rm_hands_a_copied_up_file_to_the_layer(bb):
    ctr = bb("from", "busybox")
    bb("run", ctr, "--", "sh", "-c", "echo extra:x:1:1::/:/bin/sh >> /etc/passwd")
    layer = bb("inspect", "--format", "{{.ContainerID}}", ctr)
    upper = bb.root / "overlay" / layer / "diff" / "etc" / "passwd"
    assert "trusted.overlay.origin" in os.listxattr(upper)  # what overlayfs's copy-up leaves
    inode = upper.lstat().st_ino
    bb("commit", "--rm", ctr, "changed")
    # the copy is the layer's file, not written a second time, and without overlay's marker
    (handed,) = [path for path in bb.root.rglob("passwd") if path.lstat().st_ino == inode]
    assert os.listxattr(handed) == []
    assert "extra:x:1:1" in bb.run_in("changed", "cat /etc/passwd")


def test_commit_keeping_the_container_shares_nothing_with_the_layer(bb):
    ctr = bb("from", "busybox")
    inode = int(bb("run", ctr, "--", "sh", "-c", "echo before > /kept && stat -c %i /kept"))
    bb("commit", ctr, "kept")
    assert len(store_inodes(bb, "kept")) == 2 and inode in store_inodes(bb, "kept")
    bb(
        "run", ctr, "--", "sh", "-c", "echo after > /kept"
    )  # written in place in the container's layer
    assert bb.run_in("kept", "cat /kept") == "before"
    bb("rm", ctr)


def test_build_hands_each_steps_files_to_its_layer(bb, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox\nRUN echo built > /built && stat -c %i /built > /built.inode\n"
    )
    for flags, handed_over in (([], True), (["--no-rm"], False)):
        image = bb("build", "-q", *flags, str(context)).split()[-1]
        recorded = int(bb.run_in(image, "cat /built.inode"))
        assert (store_inodes(bb, "built") == [recorded]) is handed_over
        bb("rmi", image)
    assert (
        len(store_inodes(bb, "built")) == 1
    )  # the --no-rm build's container, kept with its own copy
