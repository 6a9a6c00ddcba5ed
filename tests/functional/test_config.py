"""bb config, checked through the committed image's config."""

import hashlib
import json


def image_config(bb, image):
    return json.loads(bb("inspect", "--type", "image", image))["Config"]


def test_config_flags_reach_the_image(bb):
    ctr = bb("from", "busybox")
    bb(
        "config",
        "--env",
        "A=1",
        "--env",
        "B=two words",
        "--cmd",
        '["echo", "hi"]',
        "--entrypoint",
        "/bin/sh -c",
        "--workingdir",
        "/app",
        "--user",
        "nobody",
        "--label",
        "version=1.0",
        "--label",
        "org.opencontainers.image.title-",
        "--annotation",
        "note=yes",
        "--port",
        "8080",
        "--port",
        "53/udp",
        "--volume",
        "/data",
        "--stop-signal",
        "SIGINT",
        "--author",
        "Jane",
        "--shell",
        '["/bin/ash", "-c"]',
        "--healthcheck",
        "wget -q localhost",
        "--healthcheck-interval",
        "30s",
        "--healthcheck-retries",
        "3",
        "--onbuild",
        "RUN echo child",
        ctr,
    )
    image = bb("commit", ctr, "configured")
    config = image_config(bb, image)
    runtime = config["config"]
    assert "A=1" in runtime["Env"] and "B=two words" in runtime["Env"]
    assert runtime["Cmd"] == ["echo", "hi"]
    assert runtime["Entrypoint"] == ["/bin/ash", "-c", "/bin/sh -c"]
    assert runtime["WorkingDir"] == "/app" and runtime["User"] == "nobody"
    assert runtime["Labels"]["version"] == "1.0"
    assert "org.opencontainers.image.title" not in runtime["Labels"]
    assert runtime["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert runtime["Volumes"] == {"/data": {}}
    assert runtime["StopSignal"] == "SIGINT"
    assert runtime["Shell"] == ["/bin/ash", "-c"]
    assert runtime["Healthcheck"] == {
        "Test": ["CMD-SHELL", "wget -q localhost"],
        "Interval": 30_000_000_000,
        "Retries": 3,
    }
    assert runtime["OnBuild"] == ["RUN echo child"]
    assert config["author"] == "Jane"
    manifest = json.loads(bb("inspect", "--type", "image", image))["Manifest"]
    assert manifest["annotations"] == {"note": "yes"}


def test_config_removals_and_inheritance(bb):
    ctr = bb("from", "busybox")
    bb("config", "--env", "PATH-", "--port", "80", "--cmd", "", ctr)
    bb("config", "--port", "80-", ctr)
    runtime = image_config(bb, bb("commit", ctr, "removed"))["config"]
    assert "Env" not in runtime and "Cmd" not in runtime and "ExposedPorts" not in runtime
    assert runtime["Labels"]["org.opencontainers.image.title"] == "busybox"


def test_config_bad_values(bb):
    ctr = bb("from", "busybox")
    assert "--port" in bb.fails("config", "--port", "http", ctr)
    assert "--env" in bb.fails("config", "--env", "=x", ctr)
    assert "--stop-signal" in bb.fails("config", "--stop-signal", "SIGNOPE", ctr)
    assert "--healthcheck-interval" in bb.fails(
        "config", "--healthcheck", "true", "--healthcheck-interval", "soon", ctr
    )
    assert "--volume" in bb.fails("config", "--volume", "relative", ctr)
    assert 'container "nope" not known' in bb.fails("config", "--env", "A=1", "nope")


def _image_with_null_maps(bb, layout):
    """busybox as `docker import` writes its config: Labels, Volumes, ExposedPorts and Env null."""
    bb("push", "busybox", f"oci:{layout}:nulls")
    index = json.loads((layout / "index.json").read_text())
    blobs = layout / "blobs" / "sha256"

    def blob(descriptor):
        return json.loads((blobs / descriptor["digest"].removeprefix("sha256:")).read_text())

    def store(document, descriptor):
        data = json.dumps(document).encode()
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        descriptor.update(digest=f"sha256:{digest}", size=len(data))

    entry = index["manifests"][0]
    manifest = blob(entry)
    config = blob(manifest["config"])
    config["config"].update(Labels=None, Volumes=None, ExposedPorts=None, Env=None)
    store(config, manifest["config"])
    store(manifest, entry)
    (layout / "index.json").write_text(json.dumps(index))
    return f"oci:{layout}:nulls"


def test_config_over_null_labels_and_volumes(bb, tmp_path):
    """A base whose Labels/Volumes are null (as docker import writes them) takes new ones."""
    base = _image_with_null_maps(bb, tmp_path / "layout")
    ctr = bb("from", base)
    bb("config", "--label", "a=b", "--volume", "/v", "--port", "80", "--env", "A=1", ctr)
    runtime = image_config(bb, bb("commit", ctr, "from-nulls"))["config"]
    assert runtime["Labels"] == {"a": "b"} and runtime["Volumes"] == {"/v": {}}
    assert runtime["ExposedPorts"] == {"80/tcp": {}} and runtime["Env"] == ["A=1"]
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {base}\nLABEL x=y\nVOLUME /data\nEXPOSE 81\n")
    runtime = image_config(bb, bb("build", "-q", "-t", "built-on-nulls", str(context)))["config"]
    assert runtime["Labels"] == {"x": "y"} and runtime["Volumes"] == {"/data": {}}
