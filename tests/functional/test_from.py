"""bb from."""


def test_from_scratch_and_image_names(bb):
    assert bb("from", "scratch") == "working-container"
    assert bb("from", "scratch") == "working-container-1"
    assert bb("from", "busybox") == "busybox-working-container"
    assert bb("from", "localhost/busybox:latest") == "busybox-working-container-1"
    assert bb("from", "--name", "mine", "busybox") == "mine"
    names = bb("containers", "--noheading").splitlines()
    assert len(names) == 5


def test_from_by_image_id(bb):
    image_id = bb("images", "-q", "--notruncate")
    assert bb("from", image_id[:12]) == "busybox-working-container"


def test_from_unknown_image(bb):
    error = bb.fails("from", "nosuchimage")
    assert 'Error: image "nosuchimage" not known' in error
    assert bb("containers", "-q") == ""


def test_from_bad_arguments(bb):
    assert "must be one of" in bb.fails("from", "--pull=sometimes", "busybox")
    assert "invalid container name" in bb.fails("from", "--name", "bad name!", "busybox")
    bb("from", "--name", "taken", "busybox")
    assert "already in use" in bb.fails("from", "--name", "taken", "busybox")
    assert bb("containers", "-q").count("\n") == 0


def test_from_shares_image_layers(bb):
    ctr = bb("from", "busybox")
    assert bb("run", ctr, "--", "cat", "/etc/passwd").startswith("root:x:0:0")
