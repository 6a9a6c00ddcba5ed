"""bb config, checked through the committed image's config."""

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
