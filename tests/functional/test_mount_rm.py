"""bb mount, bb umount, bb rm, bb rmi, bb tag."""

import os


def test_mount_persists_until_umount(bb):
    ctr = bb("from", "busybox")
    path = bb("mount", ctr)
    assert os.path.exists(os.path.join(path, "bin", "busybox"))
    with open(os.path.join(path, "from-host"), "w") as written:
        written.write("host wrote this")
    assert bb("mount").split() == [ctr, path]
    # other commands leave a user mount in place
    assert bb("run", ctr, "--", "cat", "/from-host") == "host wrote this"
    assert os.path.exists(os.path.join(path, "from-host"))
    bb("umount", ctr)
    assert bb("mount") == ""
    if bb.driver == "overlay":
        assert not os.path.exists(os.path.join(path, "bin"))
    assert bb("run", ctr, "--", "cat", "/from-host") == "host wrote this"


def test_rm_removes_container_and_its_mount(bb):
    first, second = bb("from", "busybox"), bb("from", "busybox")
    bb("mount", first)
    bb("rm", first)
    assert bb("containers", "--noheading").split()[-1] == second
    bb("rm", "--all")
    assert bb("containers", "-q") == ""
    assert 'container "nope" not known' in bb.fails("rm", "nope")


def test_rmi_untags_then_deletes_and_collects_layers(bb):
    ctr = bb("from", "busybox")
    bb("run", ctr, "--", "touch", "/x")
    image_id = bb("commit", "--rm", ctr, "child")
    bb("tag", "child", "alias")
    assert bb("rmi", "alias") == "untagged: localhost/alias:latest"
    layers_before = set(os.listdir(bb.root / "layers"))
    removed = bb("rmi", "child").splitlines()
    assert removed == ["untagged: localhost/child:latest", image_id]
    assert len(set(os.listdir(bb.root / "layers"))) == len(layers_before) - 1
    assert 'image "child" not known' in bb.fails("rmi", "child")


def test_rmi_refuses_image_in_use_unless_forced(bb):
    ctr = bb("from", "busybox")
    error = bb.fails("rmi", "busybox")
    assert "in use" in error and ctr in error
    bb("rmi", "--force", "busybox")
    assert bb("images", "-q") == "" and bb("containers", "-q") == ""
    assert os.listdir(bb.root / "layers") == []
    assert os.listdir(bb.root / "blobs" / "sha256") == []


def test_rmi_prune_and_all(bb):
    dangling = bb("commit", bb("from", "busybox"))
    bb("rm", "--all")
    assert bb("rmi", "--prune") == dangling
    assert bb("images", "-q") != ""
    bb("rmi", "--all")
    assert bb("images", "-q") == ""


def test_tag_bad_input(bb):
    assert "lowercase" in bb.fails("tag", "busybox", "NotLower")
    assert 'image "nope" not known' in bb.fails("tag", "nope", "x")
