"""The same steps give the same layers, whatever the storage driver."""

import json
import os
import subprocess

from testbed import BUSYBOX_EXAMPLE, DRIVER_CORPUS, TIMESTAMP, bud_case


def build(bb, busybox):
    base = bb("from", "scratch")
    bb("copy", "--chmod", "755", base, busybox, "/bin/busybox")
    bb(
        "run",
        base,
        "--",
        "/bin/busybox",
        "sh",
        "-c",
        """
        set -e
        /bin/busybox --install -s /bin
        mkdir -p /etc /keep /replace/inner /gone
        echo root:x:0:0:root:/root:/bin/sh > /etc/passwd
        echo one > /keep/one; echo two > /keep/two
        echo old > /replace/inner/file; echo x > /gone/x
        ln -s /keep/one /link; chmod 600 /keep/two
    """,
    )
    first = bb("commit", "--timestamp", "1700000000", "--rm", base, "stage1")
    child = bb("from", "stage1")
    bb(
        "run",
        child,
        "--",
        "sh",
        "-c",
        """
        set -e
        echo appended >> /etc/passwd
        rm /keep/one /link; rm -rf /gone
        rm -rf /replace; mkdir -p /replace/fresh; echo new > /replace/fresh/file
        chown 65534:65534 /keep/two; touch -d @1600000000 /keep/two
        mkdir /new; echo hi > /new/file
    """,
    )
    second = bb("commit", "--timestamp", "1700000000", "--rm", child, "stage2")
    return [json.loads(bb("inspect", "--type", "image", image)) for image in (first, second)]


def test_overlay_and_vfs_give_the_same_diff_ids(empty_store_factory, tmp_path):
    busybox = tmp_path / "busybox"
    busybox.write_bytes(open("/bin/busybox", "rb").read())
    os.utime(busybox, (1_650_000_000, 1_650_000_000))
    results = {
        driver: build(empty_store_factory(driver, driver), str(busybox))
        for driver in ("overlay", "vfs")
    }
    overlay, vfs = results["overlay"], results["vfs"]
    assert overlay[1]["Layers"] == vfs[1]["Layers"]
    assert len(overlay[1]["Layers"]) == 2
    assert overlay[0]["Id"] == vfs[0]["Id"]
    assert overlay[1]["Id"] == vfs[1]["Id"]


def test_the_driver_corpus_gives_the_same_images_on_overlay_and_vfs(empty_store_factory):
    images = {}
    for driver in ("overlay", "vfs"):
        bb = empty_store_factory(driver, driver)
        env = {**bb.env(), "SOURCE_DATE_EPOCH": TIMESTAMP}
        subprocess.run(
            ["sh", str(BUSYBOX_EXAMPLE)], env=env, cwd=bb.cwd, check=True, capture_output=True
        )
        images[driver] = {
            name: bb(
                "build", "-q", "--timestamp", TIMESTAMP, *case.arguments, str(case.context)
            ).splitlines()[-1]
            for name, case in ((name, bud_case(name)) for name in DRIVER_CORPUS)
        }
    assert images["overlay"] == images["vfs"]
