"""push / pull / login / manifest against real registries, checked with skopeo and buildah."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

import pytest

from testbed import private_buildah


def skopeo(*args: str) -> str:
    result = subprocess.run(["skopeo", *args], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_push_then_skopeo_and_buildah_read_it(bb, registry, tmp_path):
    ctr = bb("from", "busybox")
    bb("run", ctr, "--", "sh", "-c", "echo pushed > /pushed")
    image_id = bb("commit", "--rm", ctr, "pushme")
    bb("push", "pushme", f"docker://{registry.address}/team/pushme:1")
    inspected = json.loads(
        skopeo("inspect", "--tls-verify=false", f"docker://{registry.address}/team/pushme:1")
    )
    assert inspected["Labels"]["org.opencontainers.image.title"] == "busybox"
    config = json.loads(
        skopeo(
            "inspect",
            "--config",
            "--tls-verify=false",
            f"docker://{registry.address}/team/pushme:1",
        )
    )
    assert (
        hashlib.sha256(
            json.dumps(config, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()
        == image_id
    )
    with private_buildah(tmp_path / "buildah") as buildah:
        subprocess.run(
            [*buildah, "pull", "--tls-verify=false", f"{registry.address}/team/pushme:1"],
            check=True,
            capture_output=True,
        )
        working = subprocess.run(
            [*buildah, "from", f"{registry.address}/team/pushme:1"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        out = subprocess.run(
            [*buildah, "run", "--isolation", "chroot", working, "--", "cat", "/pushed"],
            check=False,
            capture_output=True,
            text=True,
        )
    assert out.stdout.strip() == "pushed", out.stderr


def test_second_push_uploads_nothing(bb, registry):
    bb("push", "busybox", f"docker://{registry.address}/again/busybox:1")
    uploads = registry.uploads()
    bb("push", "busybox", f"docker://{registry.address}/again/busybox:2")
    bb("push", "--format", "docker", "busybox", f"docker://{registry.address}/again/busybox:3")
    assert registry.uploads() == uploads
    # another repository on the same registry gets the layer by cross-repository mount: only the
    # config goes up
    bb("push", "busybox", f"docker://{registry.address}/elsewhere/busybox:1")
    assert registry.uploads() == uploads + 1
    assert "mount=" in registry.log.read_text()


def test_pushed_gzip_layers_decompress_to_the_diff_ids(bb, registry, tmp_path):
    """Each pushed layer, gunzipped by zlib (not the library that compressed it), is its diff ID;
    pushing again (another repository, no record to reuse) gives the same digests."""
    import gzip

    ctr = bb("from", "busybox")
    bb("run", ctr, "--", "sh", "-c", "head -c 3000000 /dev/urandom > /noise; seq 100000 > /text")
    bb("commit", "--rm", "--timestamp", "0", ctr, "gzipped")
    bb("push", "gzipped", f"docker://{registry.address}/gz/one:1")
    copied = tmp_path / "dir"
    skopeo(
        "copy", "--src-tls-verify=false", f"docker://{registry.address}/gz/one:1", f"dir:{copied}"
    )
    manifest = json.loads((copied / "manifest.json").read_text())
    config = json.loads((copied / manifest["config"]["digest"][7:]).read_text())
    assert [layer["mediaType"] for layer in manifest["layers"]] == [
        "application/vnd.oci.image.layer.v1.tar+gzip"
    ] * len(config["rootfs"]["diff_ids"])
    unpacked = [
        "sha256:"
        + hashlib.sha256(gzip.decompress((copied / layer["digest"][7:]).read_bytes())).hexdigest()
        for layer in manifest["layers"]
    ]
    assert unpacked == config["rootfs"]["diff_ids"]
    records = bb.root / "compressed"
    for record in records.iterdir():
        record.unlink()
    bb("push", "gzipped", f"docker://{registry.address}/gz/two:1")
    again = json.loads(
        skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{registry.address}/gz/two:1")
    )
    assert again["layers"] == manifest["layers"]


def test_zstd_push_read_by_skopeo_buildah_and_bb(bb, registry, empty_store_factory, tmp_path):
    """(Debian's umoci 0.4.7 predates zstd layers: it refuses their media type.)

    The image is one layer of its own: skopeo and buildah remember, machine-wide, which
    compressed blobs hold a layer and would later reuse a zstd busybox layer for others."""
    content = tmp_path / "zstd"
    content.write_text(f"zstd {os.urandom(8).hex()}\n")
    ctr = bb("from", "scratch")
    bb("copy", ctr, str(content), "/zstd")
    image_id = bb("commit", "--rm", ctr, "zstdme")
    name = f"{registry.address}/zstd/zstdme:1"
    bb("push", "--compression-format", "zstd", "--compression-level", "5", "zstdme", name)
    manifest = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{name}"))
    assert {layer["mediaType"] for layer in manifest["layers"]} == {
        "application/vnd.oci.image.layer.v1.tar+zstd"
    }
    assert manifest["config"]["digest"] == f"sha256:{image_id}"
    unpacked = tmp_path / "dir"
    skopeo(
        "copy", "--src-tls-verify=false", "--dest-decompress", f"docker://{name}", f"dir:{unpacked}"
    )
    config = json.loads((unpacked / manifest["config"]["digest"][7:]).read_text())
    layers = json.loads((unpacked / "manifest.json").read_text())["layers"]
    assert [
        "sha256:" + hashlib.sha256((unpacked / layer["digest"][7:]).read_bytes()).hexdigest()
        for layer in layers
    ] == config["rootfs"]["diff_ids"]
    with private_buildah(tmp_path / "buildah") as buildah:
        working = subprocess.run(
            [*buildah, "from", "--tls-verify=false", name],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        mounted = subprocess.run(
            [*buildah, "mount", working], check=True, capture_output=True, text=True
        ).stdout.strip()
        assert open(os.path.join(mounted, "zstd")).read() == content.read_text()
        subprocess.run([*buildah, "umount", working], check=True, capture_output=True)
    other = empty_store_factory("other", "overlay")
    assert other("pull", name) == image_id
    other_ctr = other("from", name)
    assert open(os.path.join(other("mount", other_ctr), "zstd")).read() == content.read_text()
    other("umount", other_ctr)


def test_compression_flags_are_checked(bb, registry):
    target = f"docker://{registry.address}/zstd/refused:1"
    uploads = registry.uploads()
    for flags, message in [
        (
            ["--format", "docker", "--compression-format", "zstd"],
            "zstd compression is not supported for docker images",
        ),
        (["--compression-format", "lz4"], "must be gzip or zstd"),
        (["--compression-level", "10"], "gzip levels are 1 to 9"),
    ]:
        result = bb.run("push", *flags, "busybox", target, check=False)
        assert result.returncode == 125 and message in result.stderr, result.stderr
    assert registry.uploads() == uploads


def test_skopeo_copy_then_pull_and_run(bb, registry, empty_store_factory, tmp_path):
    archive = tmp_path / "busybox.tar"
    bb("save", "-o", str(archive), "busybox")
    skopeo(
        "copy",
        "--dest-tls-verify=false",
        f"docker-archive:{archive}",
        f"docker://{registry.address}/copied/busybox:skopeo",
    )
    other = empty_store_factory("other", "overlay")
    image_id = other("pull", f"{registry.address}/copied/busybox:skopeo")
    ctr = other("from", f"{registry.address}/copied/busybox:skopeo")
    assert other("run", ctr, "--", "echo", "pulled") == "pulled"
    assert image_id == bb("images", "-q", "--notruncate", "busybox")
    # bb from pulls what it does not have
    third = empty_store_factory("third", "overlay")
    assert third("from", f"docker://{registry.address}/copied/busybox:skopeo").endswith(
        "working-container"
    )


def test_login_push_logout(bb, auth_registry, tmp_path):
    address = auth_registry.address
    authfile = tmp_path / "auth.json"
    error = bb.fails(
        "push", "--authfile", str(authfile), "busybox", f"docker://{address}/private/busybox:1"
    )
    assert "authentication" in error
    error = bb.fails(
        "login", "--authfile", str(authfile), "-u", "tester", "--password", "wrong", address
    )
    assert "authentication failed" in error and not authfile.exists()
    bb.run(
        "login",
        "--authfile",
        str(authfile),
        "-u",
        "tester",
        "--password-stdin",
        address,
        input="s3cret\n",
    )
    assert authfile.stat().st_mode & 0o777 == 0o600
    assert address in json.loads(authfile.read_text())["auths"]
    bb("push", "--authfile", str(authfile), "busybox", f"docker://{address}/private/busybox:1")
    bb("push", "--creds", "tester:s3cret", "busybox", f"docker://{address}/private/busybox:2")
    bb("logout", "--authfile", str(authfile), address)
    assert json.loads(authfile.read_text())["auths"] == {}
    assert "not logged in" in bb.fails("logout", "--authfile", str(authfile), address)


def test_manifest_list(bb, registry):
    ctr = bb("from", "busybox")
    bb("config", "--arch", "arm64", ctr)
    arm = bb("commit", "--rm", ctr, "busybox:arm64")
    bb("manifest", "create", "multi", "busybox")
    bb("manifest", "add", "--arch", "arm64", "--variant", "v8", "multi", arm)
    bb("manifest", "annotate", "--annotation", "purpose=test", "multi", arm)
    local = json.loads(bb("manifest", "inspect", "multi"))
    assert [m["platform"]["architecture"] for m in local["manifests"]] == ["amd64", "arm64"]
    bb("manifest", "push", "multi", f"docker://{registry.address}/multi/busybox:list")
    raw = json.loads(
        skopeo(
            "inspect",
            "--raw",
            "--tls-verify=false",
            f"docker://{registry.address}/multi/busybox:list",
        )
    )
    assert raw["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert [m["platform"].get("variant") for m in raw["manifests"]] == [None, "v8"]
    bb("manifest", "rm", "multi")
    assert "not known" in bb.fails("manifest", "inspect", "multi")


def test_registry_errors(bb, registry):
    before = bb("images", "-q")
    assert "cannot connect" in bb.fails("pull", "--retry=0", "127.0.0.1:1/nothing/here:1")
    assert "not found" in bb.fails("pull", f"{registry.address}/nothing/here:1")
    assert "lowercase" in bb.fails("push", "busybox", f"docker://{registry.address}/Upper/case:1")
    assert bb("images", "-q") == before


def compressed_records(bb) -> set[str]:  # type: ignore[no-untyped-def]
    """The names in the store's compressed/ (what push remembers of each layer's gzip form)."""
    directory = bb.root / "compressed"
    return set(os.listdir(directory)) if directory.exists() else set()


def test_rmi_drops_compressed_records(bb, registry):
    bb("push", "busybox", f"docker://{registry.address}/records/busybox:1")
    base = compressed_records(bb)
    assert base
    ctr = bb("from", "busybox")
    bb("run", ctr, "--", "sh", "-c", "echo mine > /mine")
    bb("commit", "--rm", ctr, "mine")
    bb("push", "mine", f"docker://{registry.address}/records/mine:1")
    assert len(compressed_records(bb)) == len(base) + 1
    # the last image using a layer goes: so does the layer's record, the shared ones stay
    bb("rmi", "mine")
    assert compressed_records(bb) == base
    bb("rmi", "-a")
    assert compressed_records(bb) == set()


BAD_AUTH_FILES = {
    "not-json": b"{not json",
    "array": b"[]",
    "auths-number": b'{"auths": 5}',
    "entry-string": b'{"auths": {"REGISTRY": "dXNlcjpwYXNz"}}',
    "auth-number": b'{"auths": {"REGISTRY": {"auth": 5}}}',
    "not-base64": b'{"auths": {"REGISTRY": {"auth": "%%% not base64 %%%"}}}',
    "no-colon": b'{"auths": {"REGISTRY": {"auth": "bm9jb2xvbg=="}}}',
}


@pytest.mark.parametrize("content", BAD_AUTH_FILES.values(), ids=BAD_AUTH_FILES.keys())
@pytest.mark.parametrize("found_by", ["--authfile", "REGISTRY_AUTH_FILE", "HOME"])
def test_malformed_auth_file_is_one_error_naming_it(
    bb, registry, tmp_path, monkeypatch, content, found_by
):
    if found_by == "HOME":
        path = tmp_path / "home" / ".config" / "containers" / "auth.json"
        path.parent.mkdir(parents=True)
    else:
        path = tmp_path / "auth.json"
    if found_by == "REGISTRY_AUTH_FILE":
        monkeypatch.setenv("REGISTRY_AUTH_FILE", str(path))
    content = content.replace(b"REGISTRY", registry.address.encode())
    path.write_bytes(content)
    flag = ["--authfile", str(path)] if found_by == "--authfile" else []
    commands = [
        ["pull", *flag, f"{registry.address}/auth/busybox:1"],
        ["push", *flag, "busybox", f"docker://{registry.address}/auth/busybox:1"],
    ]
    # as in containers/image, an entry's "auth" is decoded only when used: login can replace
    # a broken one and logout drop it
    if b'"auth": "' not in content:
        commands += [
            ["login", *flag, "-u", "u", "--password", "p", registry.address],
            ["logout", *flag, registry.address],
        ]
    for command in commands:
        result = bb.run(*command, check=False)
        assert result.returncode == 125, (command, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: {path}"), (command, result.stderr)
        assert path.read_bytes() == content


@pytest.mark.parametrize(
    "content",
    [
        "registries = 5",
        "[registries]\nsearch = 'docker.io'",
        "[registries.insecure]\nregistries = 'localhost'",
        "unqualified-search-registries = [1, 2]",
        "registry = 'x'",
        "[[registry]]\nlocation = 5\ninsecure = true",
    ],
    ids=[
        "registries-number",
        "search-string",
        "insecure-string",
        "search-numbers",
        "registry-string",
        "location-number",
    ],
)
def test_malformed_registries_config_is_one_error_naming_it(
    bb, registry, tmp_path, monkeypatch, content
):
    path = tmp_path / "registries.toml"
    path.write_text(content + "\n")
    monkeypatch.setenv("BB_REGISTRIES_CONFIG", str(path))
    for command in (["pull", f"{registry.address}/conf/busybox:1"], ["info"]):
        result = bb.run(*command, check=False)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 125 and len(lines) == 1, (command, result.stderr)
        assert lines[0].startswith(f"Error: {path}: "), lines[0]


def test_ctr_img_push_and_pull_say_so(bb, registry, isula_build):
    """isula-build's push/pull lines, naming the image as the user gave it."""
    target = f"{registry.address}/team/isula:1"
    bb("tag", "busybox", target)
    pushed = isula_build("ctr-img", "push", target)
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stdout.splitlines()[-1] == f"Push success with image: {target}"
    bb("rmi", target)
    pulled = isula_build("ctr-img", "pull", target)
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.splitlines()[-1] == f"Pull success with image: {target}"
    assert bb("images", "-q", target) == bb("images", "-q", "busybox")


def test_isula_build_login_reads_the_password_from_stdin(bb, auth_registry, isula_build):
    """isula-build's `login -u USER -p SERVER` (-p: password on stdin) and `logout -a`."""
    address = auth_registry.address
    logged = isula_build("login", "-u", "tester", "-p", address, input="s3cret\n")
    assert logged.returncode == 0, logged.stderr
    assert logged.stdout.strip() == "Login Succeeded"
    assert bb.run("push", "busybox", f"docker://{address}/private/isula:1").returncode == 0
    out = isula_build("logout", "-a")
    assert out.returncode == 0 and out.stdout.strip() == "Removed authentications"
    assert "authentication" in bb.fails("push", "busybox", f"docker://{address}/private/isula:2")
