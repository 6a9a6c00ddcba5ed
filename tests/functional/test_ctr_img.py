"""bb ctr-img: isula-build's commands, through the group and through an `isula-build` alias."""

from __future__ import annotations

import json
import subprocess


def test_rm_all_with_a_name_is_refused(bb, isula_build):
    """`rm -a NAME` is a mistake isula-build refuses; it must not remove every image."""
    before = bb("images", "-q")
    result = isula_build("ctr-img", "rm", "-a", "foo:bar")
    assert result.returncode != 0 and "--all" in result.stderr
    assert bb("images", "-q") == before
    assert bb.fails("rmi", "-a", "busybox")
    assert bb("images", "-q") == before


def test_isula_build_messages(bb, isula_build, tmp_path):
    """Each ctr-img verb says what isula-build's says, with the same words."""
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox AS first\nRUN echo one > /one\nFROM busybox\nCOPY --from=first /one /one\n"
    )
    built = isula_build("ctr-img", "build", "-t", "app:1", str(context))
    assert built.returncode == 0, built.stderr
    lines = built.stdout.splitlines()
    image_id = bb("images", "-q", "--notruncate", "app:1")
    assert [line for line in lines if line.startswith("STEP")] == [
        "STEP  1: FROM busybox AS first",
        "STEP  2: RUN echo one > /one",
        "STEP  3: FROM busybox",
        "STEP  4: COPY --from=first /one /one",
    ]
    assert lines[-1] == f"Build success with image id: {image_id}"
    assert not any(line.startswith("COMMIT") for line in lines)
    archive = tmp_path / "app.tar"
    saved = isula_build("ctr-img", "save", "app:1", "-o", str(archive))
    assert saved.stdout.splitlines()[-1] == "Save success with image: app:1"
    bb("tag", "app:1", "app:2")
    removed = isula_build("ctr-img", "rm", "app:2")
    assert removed.stdout.splitlines() == ["Untagged image: localhost/app:2"]
    removed = isula_build("ctr-img", "rm", "app:1")
    assert removed.stdout.splitlines() == [f"Deleted: sha256:{image_id}"]
    loaded = isula_build("ctr-img", "load", "-i", str(archive))
    assert loaded.stdout.splitlines() == [f"Loaded image as {image_id}"]
    rootfs = tmp_path / "rootfs.tar"
    subprocess.run(["tar", "-C", str(context), "-cf", str(rootfs), "Dockerfile"], check=True)
    imported = isula_build("ctr-img", "import", str(rootfs), "imported:1")
    imported_id = bb("images", "-q", "--notruncate", "imported:1")
    assert imported.stdout.strip() == f'Import success with image id: "{imported_id}"'
    assert (
        bb("import", str(rootfs), "plain:1")
        == json.loads(bb("inspect", "--type", "image", "plain:1"))["Id"]
    ), "bb's own verbs keep printing the bare ID"


def test_isula_build_errors_exit_1(bb, isula_build, tmp_path):
    """Under ctr-img every error exits 1 as isula-build's do; bb's own verbs keep 125."""
    missing = isula_build("ctr-img", "rm", "foo:bar")
    assert missing.returncode == 1 and missing.stderr.startswith("Error: ")
    assert isula_build("ctr-img", "images", "--no-such-flag").returncode == 1
    assert isula_build("ctr-img", "load").returncode == 1
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN exit 3\n")
    assert isula_build("ctr-img", "build", str(context)).returncode == 1
    bb.fails("rmi", "foo:bar", code=125)
    bb.fails("images", "--no-such-flag", code=125)
    bb.fails("build", str(context), code=3)
