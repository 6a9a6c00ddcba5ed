"""The registry options spelled as buildah users type them (`--tls-verify=false`, `--creds`,
`--cert-dir`, `--authfile`/REGISTRY_AUTH_FILE), against real registries; skopeo reads the result."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from testbed import private_buildah


def skopeo(*args: str) -> str:
    result = subprocess.run(["skopeo", *args], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def layer_count(bb, image: str) -> int:  # type: ignore[no-untyped-def]
    return len(json.loads(bb("inspect", "-t", "image", image))["Layers"])


def test_boolean_flags_take_true_and_false(bb, registry, tmp_path):
    name = f"{registry.address}/flags/busybox:1"
    bb("push", "--tls-verify=false", "busybox", f"docker://{name}")
    assert "expected true or false" in bb.fails(
        "push", "--tls-verify=maybe", "busybox", f"docker://{name}"
    )
    # =true means what it says: HTTPS, which this registry does not speak, so the pull fails
    assert "cannot connect" in bb.fails("pull", "--tls-verify=true", "--retry=0", name)
    assert bb("pull", "--tls-verify=false", "-q", name) == bb("images", "-q", "--notruncate", name)
    assert bb("from", "--tls-verify=false", "--pull=always", "-q", name).endswith(
        "working-container"
    )
    bb("manifest", "create", "flags-list", "busybox")
    bb("manifest", "push", "--tls-verify=false", "flags-list", f"docker://{name}-list")

    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {name}\nRUN echo 1 > /one\nRUN echo 2 > /two\n")
    base_layers = layer_count(bb, name)
    containers = bb("containers", "-q")
    built = bb(
        "build", "--tls-verify=false", "--pull=true", "--layers=false", "--rm=true", "-q", "-t",
        "flags-one", str(context),
    )  # fmt: skip
    assert len(built.splitlines()) == 1  # -q: the image ID only
    assert layer_count(bb, "flags-one") == base_layers + 1  # --layers=false: one for the stage
    assert bb("containers", "-q") == containers  # --rm=true
    bb("build", "--pull", "--layers=true", "--rm=false", "-t", "flags-each", str(context))
    assert layer_count(bb, "flags-each") == base_layers + 2  # --layers=true: one per RUN
    assert bb("containers", "-q") != containers  # --rm=false kept the build's containers
    # a flag given twice: the last one counts, as with pflag
    bb("build", "--layers", "--layers=false", "-q", "-t", "flags-last", str(context))
    assert layer_count(bb, "flags-last") == base_layers + 1
    # --pull alone before the context directory is --pull=true, not --pull=CONTEXT
    bb("build", "-q", "-t", "flags-bare", "--pull", str(context))


def test_login_takes_tls_verify_false(bb, auth_registry, tmp_path):
    authfile = tmp_path / "auth.json"
    bb.run(
        "login", "--tls-verify=false", "--authfile", str(authfile), "-u", "tester",
        "--password-stdin", auth_registry.address, input="s3cret\n",
    )  # fmt: skip
    assert auth_registry.address in json.loads(authfile.read_text())["auths"]


@pytest.fixture
def cert_dir(tls_registry, tmp_path):  # type: ignore[no-untyped-def]
    """A certs.d directory for the TLS registry: its CA and a client pair."""
    directory = tmp_path / "certs.d"
    directory.mkdir()
    for name in ("ca.crt", "client.cert", "client.key"):
        shutil.copy(tls_registry.certificates / name, directory / name)
    return directory


def test_cert_dir_creds_and_authfile_against_a_tls_registry(
    bb, tls_registry, cert_dir, tmp_path, monkeypatch
):
    name = f"{tls_registry.address}/tls/busybox:1"
    certs = ["--cert-dir", str(cert_dir)]
    bb("push", *certs, "--creds", "tester:s3cret", "busybox", f"docker://{name}")
    # skopeo, given the same certs.d directory, reads what bb pushed
    inspected = json.loads(
        skopeo(
            "inspect", "--cert-dir", str(cert_dir), "--creds", "tester:s3cret", f"docker://{name}"
        )
    )
    assert inspected["Labels"]["org.opencontainers.image.title"] == "busybox"
    # without the CA the server's certificate is not trusted; without the client pair the
    # server refuses the handshake
    assert "CERTIFICATE_VERIFY_FAILED" in bb.fails(
        "pull", "--tls-verify", "--retry=0", "--creds", "tester:s3cret", name
    )
    (cert_dir / "client.cert").unlink()
    assert "cannot connect" in bb.fails(
        "pull", *certs, "--retry=0", "--creds", "tester:s3cret", name
    )
    shutil.copy(tls_registry.certificates / "client.cert", cert_dir / "client.cert")
    assert "authentication failed" in bb.fails("pull", *certs, "--creds", "tester:wrong", name)
    assert "not at a terminal" in bb.fails("pull", *certs, "--creds", "tester", name)
    assert "not a directory" in bb.fails("pull", "--cert-dir", str(tmp_path / "none"), name)
    (cert_dir / "client.key").unlink()
    assert "no client.key beside it" in bb.fails("pull", *certs, name)
    shutil.copy(tls_registry.certificates / "client.key", cert_dir / "client.key")

    # REGISTRY_AUTH_FILE: where login writes and pull reads
    authfile = tmp_path / "elsewhere" / "auth.json"
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(authfile))
    assert "authentication" in bb.fails("pull", *certs, name)
    bb.run(
        "login", *certs, "-u", "tester", "--password-stdin", tls_registry.address, input="s3cret\n"
    )
    assert tls_registry.address in json.loads(authfile.read_text())["auths"]
    bb("rmi", "-a")
    assert bb("pull", *certs, "-q", name)
    # --authfile names another file, over REGISTRY_AUTH_FILE
    other = tmp_path / "other.json"
    other.write_text('{"auths": {}}')
    assert "authentication" in bb.fails("pull", *certs, "--authfile", str(other), name)


def test_registries_conf_mirrors_location_and_blocked(
    bb, registry, mirror_registry, tmp_path, monkeypatch
):
    """containers-registries.conf(5) v2: names under a prefix come from its mirrors in order,
    then from its location (the prefix rewritten); a blocked prefix is refused."""
    config = tmp_path / "registries.toml"
    config.write_text(
        f'[[registry]]\nprefix = "example.test/team"\nlocation = "{registry.address}/team"\n'
        f'[[registry.mirror]]\nlocation = "{mirror_registry.address}/team-mirror"\n'
        '[[registry]]\nprefix = "example.test/blocked"\nblocked = true\n'
        'location = "example.test/blocked"\n'
    )
    monkeypatch.setenv("BB_REGISTRIES_CONFIG", str(config))
    bb("push", "busybox", f"docker://{registry.address}/team/app:1")
    busybox = bb("images", "-q", "--notruncate", "busybox")
    # the mirror lacks it: the location has it
    assert bb("pull", "-q", "example.test/team/app:1") == busybox
    assert "/v2/team-mirror/app/manifests/1" in mirror_registry.log.read_text()
    assert "example.test/team/app:1" in bb("images", "--json")
    # once the mirror has it (another image), it comes from the mirror
    ctr = bb("from", "busybox")
    bb("run", ctr, "--", "sh", "-c", "echo mirrored > /mirrored")
    mirrored = bb("commit", "--rm", ctr, "mirrored")
    bb("push", "mirrored", f"docker://{mirror_registry.address}/team-mirror/app:1")
    assert bb("pull", "-q", "example.test/team/app:1") == mirrored
    # a name under no prefix goes where it says; a blocked one nowhere
    assert "blocked" in bb.fails("pull", "example.test/blocked/app:1")
    assert bb("pull", "-q", f"{registry.address}/team/app:1") == busybox


def test_pull_of_a_short_name_and_short_name_mode(
    bb, registry, mirror_registry, tmp_path, monkeypatch
):
    """`bb pull SHORT` searches unqualified-search-registries as `bb from` and FROM do, as
    short-name-mode says; buildah, given the same file, does the same off a terminal."""
    bb("push", "busybox", f"docker://{registry.address}/short/app:1")
    busybox = bb("images", "-q", "--notruncate", "busybox")
    config = tmp_path / "registries.toml"
    monkeypatch.setenv("BB_REGISTRIES_CONFIG", str(config))
    monkeypatch.setenv("CONTAINERS_REGISTRIES_CONF", str(config))  # buildah's
    searched = (
        f'unqualified-search-registries = ["{mirror_registry.address}", "{registry.address}"]\n'
        f'[[registry]]\nlocation = "{mirror_registry.address}"\ninsecure = true\n'
        f'[[registry]]\nlocation = "{registry.address}"\ninsecure = true\n'
    )

    def with_mode(mode: str, more: str = "") -> None:
        config.write_text((f'short-name-mode = "{mode}"\n' if mode else "") + searched + more)

    with private_buildah(tmp_path / "buildah") as buildah:
        # permissive (also when not given) and disabled: each search registry in turn; the
        # first lacks it
        for mode in ("", "permissive", "disabled"):
            with_mode(mode)
            assert bb("pull", "-q", "short/app:1") == busybox
            assert f"{registry.address}/short/app:1" in bb("images", "--json")
            bb("rmi", f"{registry.address}/short/app:1")
            pulled = subprocess.run([*buildah, "pull", "-q", "short/app:1"], capture_output=True)
            assert pulled.returncode == 0, pulled.stderr
        # enforcing: several search registries are an ambiguity that bb (never prompting)
        # and buildah (off a terminal) refuse; bb names the candidates
        with_mode("enforcing")
        # (buildah would take the image it pulled above)
        subprocess.run([*buildah, "rmi", "--all", "--force"], capture_output=True, check=True)
        error = bb.fails("pull", "short/app:1")
        assert error.count("\n") == 1 and "ambiguous" in error, error
        assert f"{mirror_registry.address}/short/app:1, {registry.address}/short/app:1" in error
        refused = subprocess.run([*buildah, "pull", "-q", "short/app:1"], capture_output=True)
        assert refused.returncode != 0
        assert "ambiguous" in bb.fails("from", "short/app:1")
        # ... unless an alias says which; a tag or digest asked for is kept
        with_mode("enforcing", f'[aliases]\n"short/app" = "{registry.address}/short/app"\n')
        assert bb("pull", "-q", "short/app:1") == busybox
        aliased = subprocess.run([*buildah, "pull", "-q", "short/app:1"], capture_output=True)
        assert aliased.returncode == 0, aliased.stderr
    # one search registry: no ambiguity
    config.write_text(
        f'short-name-mode = "enforcing"\nunqualified-search-registries = ["{registry.address}"]\n'
    )
    assert bb("pull", "-q", "short/app:1") == busybox
    # none: bb says so (a qualified name or docker:// still works)
    config.write_text("")
    assert "unqualified-search-registries" in bb.fails("pull", "short/app:1")
    assert bb("pull", "-q", f"docker://{registry.address}/short/app:1") == busybox
    # a malformed mode or alias is one error naming the file and key
    for text, key in (
        ('short-name-mode = "strict"\n', "short-name-mode"),
        ('[aliases]\n"example.com/app" = "example.com/app"\n', 'aliases."example.com/app"'),
        ('[aliases]\n"app" = "app"\n', 'aliases."app"'),
        ('[aliases]\n"app:1" = "example.com/app"\n', 'aliases."app:1"'),
    ):
        config.write_text(text)
        error = bb.fails("pull", "short/app:1")
        assert error.count("\n") == 1 and str(config) in error and key in error, error
