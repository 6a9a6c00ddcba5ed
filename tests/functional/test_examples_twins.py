"""The Dockerfile example and its step-by-step twin build the same image."""

import json
import subprocess

from testbed import EXAMPLES


def test_dockerfile_and_shell_twin_give_the_same_image(bb):
    built = bb(
        "build", "-q", "--timestamp", "1700000000", "-t", "site-built", str(EXAMPLES / "hello-site")
    ).split()[-1]
    result = subprocess.run(
        ["sh", str(EXAMPLES / "hello-site.sh"), "site-scripted", "--timestamp", "1700000000"],
        env=bb.env(),
        cwd=bb.cwd,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    scripted = result.stdout.split()[-1]
    built_doc = json.loads(bb("inspect", "--type", "image", built))
    scripted_doc = json.loads(bb("inspect", "--type", "image", scripted))
    assert built_doc["Layers"] == scripted_doc["Layers"]
    assert built_doc["Config"]["config"] == scripted_doc["Config"]["config"]
    ctr = bb("from", "site-built")
    assert (
        bb("run", ctr, "--", "sh", "-c", "id -un; cat index.html | head -n 2 | tail -n 1")
        == "www\n<title>hello from bb</title>"
    )
