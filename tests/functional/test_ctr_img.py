"""bb ctr-img: isula-build's commands, through the group and through an `isula-build` alias."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tarfile


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


def test_images_table_in_isula_builds_layout(bb, isula_build, tmp_path):
    """Names as the user gave them, between isula-build's dashed rules, columns two spaces apart."""
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo hi > /hi\n")
    archive = tmp_path / "app.tar"
    built = isula_build(
        "ctr-img",
        "build",
        "-t",
        "app:1",
        "-o",
        f"docker-archive:{archive}:isula/app:2",
        str(context),
    )
    assert built.returncode == 0, built.stderr
    image_id = bb("images", "-q", "app:1")
    listed = isula_build("ctr-img", "images").stdout.splitlines()
    rule = "  ".join("-" * width for width in (39, 11, 17, 24, 12))
    assert listed[0] == listed[2] == listed[-1] == rule
    assert listed[1] == (
        "REPOSITORY                               TAG          IMAGE ID           "
        "CREATED                   SIZE"
    )
    rows = [line.split() for line in listed[3:-1]]
    assert [row[:3] for row in rows if row[2] == image_id] == [
        ["app", "1", image_id],
        ["isula/app", "2", image_id],
    ]
    assert ["busybox", "latest"] in [row[:2] for row in rows]
    assert all(len(row[3]) == 10 and len(row[4]) == 8 for row in rows), "YYYY-MM-DD HH:MM:SS"
    one = isula_build("ctr-img", "images", "isula/app:2").stdout.splitlines()
    assert len(one) == 5 and one[3].split()[:2] == ["isula/app", "2"]
    assert isula_build("ctr-img", "rm", "isula/app:2").returncode == 0, "-o named it in the store"
    assert "localhost/app" in bb("images"), "bb's own list keeps the qualified names"


def test_save_flags_and_no_overwrite(bb, isula_build, tmp_path):
    """save -f docker|oci; isula-build's save never overwrites a file (bb save does, as buildah)."""
    docker, oci = tmp_path / "docker.tar", tmp_path / "oci.tar"
    assert (
        isula_build("ctr-img", "save", "-f", "docker", "busybox", "-o", str(docker)).returncode == 0
    )
    assert isula_build("ctr-img", "save", "-f", "oci", "busybox", "-o", str(oci)).returncode == 0
    with tarfile.open(docker) as tar:
        assert "manifest.json" in tar.getnames()
    with tarfile.open(oci) as tar:
        assert "index.json" in tar.getnames()
    before = docker.read_bytes()
    again = isula_build("ctr-img", "save", "busybox", "-o", str(docker))
    assert again.returncode == 1 and "output file already exist" in again.stderr
    assert docker.read_bytes() == before
    bb("save", "-f", "oci", "-o", str(docker), "busybox")
    with tarfile.open(docker) as tar:
        assert "index.json" in tar.getnames()


def test_info_and_version_layouts(bb, isula_build):
    """info -H -V in isula-build's sections; version as Client and Server."""
    shown = isula_build("info", "-H", "-V")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    sections = [line for line in lines if not line.startswith(" ")]
    assert sections == ["General:", "Store:", "Registry:", "Runtime:"]
    rows = {
        label.strip(): value.strip()
        for label, _, value in (line.partition(": ") for line in lines if line.startswith("  "))
    }
    assert rows["DataRoot"] == str(bb.root) and rows["RunRoot"] == str(bb.runroot)
    assert rows["Storage Driver"] == bb.driver and rows["MemTotal"].endswith("B")
    assert "Search Registries:" in rows and "Insecure Registries:" in rows
    assert json.loads(bb("info"))["store"]["GraphDriverName"] == bb.driver, "plain info: JSON"
    version = isula_build("version").stdout.split("\n\n")
    assert [part.splitlines()[0] for part in version] == ["Client:", "Server:"]
    assert all(part.splitlines()[1].startswith("  Version:       ") for part in version)


def _isula_build_config(directory, data_root, run_root, driver, extra_storage=""):
    """isula-build's three files as it ships them, with the roots and driver given."""
    directory.mkdir()
    (directory / "configuration.toml").write_text(
        'debug = false\nloglevel = ""\ngroup = "isula"\n'
        f'run_root = "{run_root}"\ndata_root = "{data_root}"\nruntime = ""\n'
    )
    (directory / "storage.toml").write_text(
        f'[storage]\ndriver = "{driver}"\nrunroot = "/nonexistent/run"\n'
        'graphroot = "/nonexistent/graph"\n\n[storage.options]\n\n'
        f'[storage.options.overlay]\nmountopt = "nodev"\n{extra_storage}'
    )
    (directory / "registries.toml").write_text(
        '[registries.search]\nregistries = ["search.example"]\n\n'
        '[registries.insecure]\nregistries = ["localhost:5000"]\n'
    )
    return directory / "configuration.toml"


def test_isula_build_configuration_files(bb, tmp_path):
    """--config DIR/configuration.toml: its roots (beating storage.toml's), storage.toml's
    driver and options, registries.toml; flags beat the files."""
    data_root, run_root = tmp_path / "isula-data", tmp_path / "isula-run"
    config = _isula_build_config(tmp_path / "etc", data_root, run_root, bb.driver)
    env = {k: v for k, v in bb.env().items() if not k.startswith("BB_")}

    def run(*args):
        return subprocess.run(
            [bb.executable, "--config", str(config), *args],
            env=env,
            capture_output=True,
            text=True,
            cwd=bb.cwd,
        )

    shown = run("info", "-H")
    assert shown.returncode == 0, shown.stderr
    rows = [line.strip() for line in shown.stdout.splitlines()]
    assert f"DataRoot:     {data_root}" in rows and f"RunRoot:      {run_root}" in rows
    assert f"Storage Driver:     {bb.driver}" in rows
    registries = rows[rows.index("Registry:") + 1 :]
    assert registries[:4] == [
        "Search Registries:",
        "search.example",
        "Insecure Registries:",
        "localhost:5000",
    ]
    assert run("ctr-img", "import", str(_rootfs(tmp_path)), "in-isula-root:1").returncode == 0
    assert (data_root / bb.driver).is_dir() and not (tmp_path / "nonexistent").exists()
    assert "in-isula-root" in run("ctr-img", "images").stdout
    flagged = run("--dataroot", str(tmp_path / "flag-root"), "info", "-H").stdout
    assert f"DataRoot:     {tmp_path / 'flag-root'}" in [s.strip() for s in flagged.splitlines()]


def _rootfs(tmp_path):
    tarball = tmp_path / "rootfs.tar"
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "rootfs" / "hello").write_text("hello\n")
    subprocess.run(["tar", "-C", str(tmp_path / "rootfs"), "-cf", str(tarball), "."], check=True)
    return tarball


def test_isula_build_configuration_errors_name_the_key(bb, tmp_path):
    """A key bb cannot honour is an error naming it, not silently ignored."""
    env = {k: v for k, v in bb.env().items() if not k.startswith("BB_")}
    roots = (tmp_path / "d", tmp_path / "r")
    bad_storage = _isula_build_config(tmp_path / "a", *roots, "overlay", 'size = "10G"\n')
    bad_key = _isula_build_config(tmp_path / "b", *roots, "vfs")
    bad_key.write_text(bad_key.read_text() + 'foo = "bar"\n')
    for config, key in ((bad_storage, "overlay.size"), (bad_key, "foo")):
        result = subprocess.run(
            [bb.executable, "--config", str(config), "ctr-img", "images"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 1 and key in result.stderr, result.stderr


def _layered_apps(bb, tmp_path):
    """lib:latest on busybox (one layer), app1 and app2 on lib, each adding a file."""
    for name, base in (("lib", "busybox"), ("app1", "lib:latest"), ("app2", "lib:latest")):
        context = tmp_path / f"context-{name}"
        context.mkdir()
        (context / "Dockerfile").write_text(f"FROM {base}\nRUN echo {name} > /{name}.txt\n")
        bb("build", "-q", "-t", f"{name}:latest", str(context))
    assert len(json.loads(bb("inspect", "--type", "image", "busybox"))["Layers"]) == 1


def test_separated_images_save_and_load(bb, isula_build, tmp_path):
    """save -b/-l/-d/-r writes base, lib and app tarballs and a manifest; load -d/-b/-l/-i
    assembles an app again, checking every tarball's sha256 unless --no-check."""
    _layered_apps(bb, tmp_path)
    ids = {app: bb("images", "-q", "--notruncate", f"{app}:latest") for app in ("app1", "app2")}
    renames = tmp_path / "rename.json"
    renames.write_text(
        json.dumps(
            [
                {"name": "app1_latest_app_image.tar.gz", "rename": "app1.tar.gz"},
                {"name": "app1_latest_base_image.tar.gz", "rename": "base1.tar.gz"},
                {"name": "app1_latest_lib_image.tar.gz", "rename": "lib1.tar.gz"},
            ]
        )
    )
    images = tmp_path / "Images"
    saved = isula_build(
        "ctr-img", "save", "-b", "busybox:latest", "-l", "lib:latest", "-d", str(images),
        "-r", str(renames), "app1:latest", "app2:latest",
    )  # fmt: skip
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.splitlines()[-1] == "Save success with image: app1:latest app2:latest"
    assert sorted(os.listdir(images)) == [
        "app1.tar.gz", "app2_latest_app_image.tar.gz", "base1.tar.gz", "lib1.tar.gz", "manifest",
    ]  # fmt: skip
    manifest = json.loads((images / "manifest").read_text())
    assert sorted(manifest) == ["app1:latest", "app2:latest"]
    for entry in manifest.values():
        assert (entry["base"], entry["lib"]) == ("base1.tar.gz", "lib1.tar.gz"), "shared, once"
        assert (entry["baseImageName"], entry["libImageName"]) == ("busybox:latest", "lib:latest")
        for kind in ("base", "lib", "app"):
            digest = hashlib.sha256((images / entry[kind]).read_bytes()).hexdigest()
            assert entry[f"{kind}Hash"] == digest
    for app in ("app1", "app2", "lib"):
        bb("rmi", f"{app}:latest")
    loaded = isula_build(
        "ctr-img", "load", "-d", str(images), "-b", str(images / "base1.tar.gz"),
        "-l", str(images / "lib1.tar.gz"), "-i", "app1:latest",
    )  # fmt: skip
    assert loaded.stdout.splitlines() == [f"Loaded image as {ids['app1']}"], loaded.stderr
    assert bb.run_in("app1:latest", "cat /lib.txt /app1.txt") == "lib\napp1"
    assert isula_build("ctr-img", "load", "-d", str(images), "-i", "app2").returncode == 0
    assert bb("images", "-q", "--notruncate", "app2:latest") == ids["app2"]
    bb("rmi", "app2:latest")
    manifest["app2:latest"]["appHash"] = "0" * 64
    (images / "manifest").write_text(json.dumps(manifest))
    tampered = isula_build("ctr-img", "load", "-d", str(images), "-i", "app2:latest")
    assert tampered.returncode == 1 and "check sum" in tampered.stderr
    assert bb.run("images", "app2:latest", check=False).returncode != 0
    unchecked = ("ctr-img", "load", "-d", str(images), "-i", "app2:latest", "--no-check")
    assert isula_build(*unchecked).returncode == 0
    assert bb("images", "-q", "--notruncate", "app2:latest") == ids["app2"]


def test_separated_images_refusals(bb, isula_build, tmp_path):
    """What isula-build's manual and tests refuse, refused with exit 1 and nothing written."""
    _layered_apps(bb, tmp_path)
    app_id = bb("images", "-q", "app1:latest")
    existing = tmp_path / "existing"
    existing.mkdir()
    fresh = str(tmp_path / "fresh")
    for args in (
        ["-b", "busybox", "-d", str(existing), "app1:latest"],  # the directory must be new
        ["-b", "busybox", "-o", str(tmp_path / "x.tar"), "app1:latest"],  # -o is the other save
        ["-l", "lib:latest", "-d", fresh, "app1:latest"],  # -b is required
        ["-b", "busybox", "-l", "busybox", "-d", fresh, "app1:latest"],
        ["-b", "lib:latest", "-d", fresh, "app1:latest"],  # a base has one layer
        ["-b", "busybox", "-l", "app2:latest", "-d", fresh, "app1:latest"],  # not its lib
        ["-b", "busybox", "-d", fresh, app_id],  # an ID does not say what name to load
    ):
        result = isula_build("ctr-img", "save", *args)
        assert result.returncode == 1 and result.stderr.startswith("Error: "), (args, result)
        assert not os.path.exists(fresh) and os.listdir(existing) == []
    assert isula_build("ctr-img", "load", "-d", str(existing), "-i", "app1:latest").returncode == 1
    assert (
        isula_build("ctr-img", "save", "-b", "busybox", "-d", fresh, "app1:latest").returncode == 0
    )
    assert sorted(os.listdir(fresh)) == [
        "app1_latest_app_image.tar.gz", "app1_latest_base_image.tar.gz", "manifest",
    ]  # fmt: skip
