"""The example script builds and runs a real busybox image."""


def test_busybox_example_image(bb):
    images = bb("images", "--noheading")
    assert "localhost/busybox" in images and "latest" in images
    config = bb("inspect", "--type", "image", "--format", "{{.Config.config.Cmd}}", "busybox")
    assert config == '["/bin/sh"]'
    ctr = bb("from", "busybox")
    assert ctr == "busybox-working-container"
    assert bb("run", ctr, "--", "sh", "-c", "echo $((6*7))") == "42"
    assert bb("containers", "-q")
