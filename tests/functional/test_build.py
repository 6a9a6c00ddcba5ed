"""bb build: the Dockerfile corpus in tests/bud/, built on the busybox base."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from testbed import bud_case, private_buildah


def inspect(bb, image):
    return json.loads(bb("inspect", "--type", "image", image))


def build(bb, name, *flags):
    """Build the Dockerfile case tests/bud/<name>/ with its arguments and `flags`; the image ID."""
    case = bud_case(name)
    return build_context(bb, case.context, *case.arguments, *flags)


def build_context(bb, context, *flags):
    """Build the context directory `context` with `flags`; the image ID."""
    return bb("build", "-q", *flags, str(context)).splitlines()[-1]


def no_leftovers(bb, images_before):
    assert bb("containers", "-q") == ""
    assert set(bb("images", "-q", "--notruncate").split()) == images_before


def test_every_instruction(bb):
    base_layers = len(inspect(bb, "busybox")["Layers"])
    image = build(bb, "instructions", "-t", "every")
    document = inspect(bb, image)
    config = document["Config"]["config"]
    assert document["Names"] == ["localhost/every:latest"]
    assert len(document["Layers"]) == base_layers + 1
    assert config["Env"][-3:] == [
        "APP_HOME=/opt/app",
        "MODE=production mode",
        "LEGACY=legacy value",
    ]
    assert config["Labels"] == {
        "org.opencontainers.image.title": "busybox",
        "org.opencontainers.image.description": "busybox from Debian's busybox-static",
        "stage": "base",
        "version": "1.0",
        "quoted key": "quoted value",
        "multi": "onetwo",
    }
    assert document["Config"]["author"] == "bb tests <tests@example.com>"
    assert config["ExposedPorts"] == {"80/tcp": {}, "443/tcp": {}, "53/udp": {}}
    assert config["Volumes"] == {"/data": {}, "/logs": {}, "/cache": {}}
    assert config["WorkingDir"] == "/opt/app/sub"
    assert config["User"] == "root"
    assert config["StopSignal"] == "SIGQUIT"
    assert config["Shell"] == ["/bin/sh", "-e", "-c"]
    assert config["Healthcheck"] == {
        "Test": ["CMD-SHELL", "wget -q -O- localhost || exit 1"],
        "Interval": 10_000_000_000,
        "Timeout": 3_000_000_000,
        "Retries": 2,
    }
    assert config["OnBuild"] == ["RUN echo triggered > /onbuild.txt"]
    assert config["Entrypoint"] == ["/usr/local/bin/script"]
    assert config["Cmd"] == ["--help"]
    assert "VERSION" not in json.dumps(config["Env"]) and "FROM_CLI" not in json.dumps(config)
    history = document["Config"]["history"]
    assert any(
        entry["created_by"].startswith("EXPOSE") and entry.get("empty_layer") for entry in history
    )
    files = bb.run_in(
        image,
        """
        cat /pwd.txt /run.txt /opt/app/sub/hello.txt /shell.txt /tmp/uid.txt
        stat -c '%U:%G %a' /owned.txt
        for d in /tree /tree/sub /globbed /unpacked/inner /added; do ls $d; done
        cat '/json form.txt' /unpacked/inner/file
        stat -c '%a' /usr/local/bin/script
        test -d /opt/app/sub && echo workdir-exists
    """,
    ).splitlines()
    assert files == [
        "/opt/app/sub",
        "production mode from 1.0 and cli",
        "hello",
        "shell-form-with-custom-shell",
        "65534",
        "nobody:nogroup 600",
        "a.txt",
        "b.txt",
        "sub",
        "c.txt",
        "a.txt",
        "b.txt",
        "file",
        "hello.txt",
        "hello",
        "packed",
        "755",
        "workdir-exists",
    ]


def test_multistage_builds_only_needed_stages(bb):
    images_before = set(bb("images", "-q", "--notruncate").split())
    image = build(bb, "multistage", "-t", "multi")
    out = bb.run_in(
        image,
        (
            "cat /copied-by-name.txt /copied-by-index.txt /second.txt /source.txt; "
            "head -c4 /passwd-from-image"
        ),
    )
    assert out.splitlines() == ["built-in-first", "built-in-first", "second", "src", "root"]
    # intermediate stages leave no image and no container
    no_leftovers(bb, images_before | {image})
    second = build(bb, "multistage", "--target", "second", "-t", "second-only")
    assert bb.run_in(second, "cat /first.txt /second.txt").splitlines() == [
        "built-in-first",
        "second",
    ]


def test_onbuild_triggers_run_in_child(bb):
    build(bb, "instructions", "-t", "onbuild-parent")
    child = build(bb, "onbuild", "-t", "child")
    assert bb.run_in(child, "cat /onbuild.txt /child.txt").splitlines() == ["triggered", "child"]
    assert "OnBuild" not in inspect(bb, child)["Config"]["config"]


def test_dockerignore(bb):
    image = build(bb, "dockerignore")
    listed = bb.run_in(image, "cd /ctx && find . -type f | sort").splitlines()
    assert listed == [
        "./.dockerignore",
        "./Dockerfile",
        "./docs/keep.md",
        "./keep/a.go",
        "./keep/b.txt",
    ]


def test_escape_directive(bb):
    image = build(bb, "escape")
    assert bb.run_in(image, "cat /escaped.txt") == "windows style"
    assert inspect(bb, image)["Config"]["config"]["Labels"]["path"] == "C:\\dir"


def test_heredocs(bb):
    image = build(bb, "heredocs")
    out = bb.run_in(image, "cat /script.txt /stdin.txt /docs/A /docs/B /single.txt")
    assert out.splitlines() == [
        "script heredoc",
        "tab stripped heredoc",
        "expanded heredoc",
        "literal $NAME",
        "single file",
    ]


def test_bud_alias_iidfile_and_progress(bb, tmp_path):
    iidfile = tmp_path / "iid"
    result = bb.run(
        "bud", "--iidfile", str(iidfile), "-t", "aliased", str(bud_case("escape").context)
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "STEP 1/3: FROM busybox"
    assert lines[-1] == iidfile.read_text().removeprefix("sha256:")


def test_reproducible_builds(bb):
    first = build(bb, "instructions", "--build-static", "build-time=2024-01-02 03:04:05")
    second = build(bb, "instructions", "--build-static", "build-time=2024-01-02 03:04:05")
    assert first == second
    assert inspect(bb, first)["Config"]["created"] == "2024-01-02T03:04:05Z"
    assert build(bb, "heredocs", "--timestamp", "1700000000") == build(
        bb, "heredocs", "--timestamp", "1700000000"
    )


def test_layer_cache(bb, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "input.txt").write_text("one")
    (context / "Dockerfile").write_text(
        "FROM busybox\nRUN echo first > /first\nCOPY input.txt /\n"
        "RUN cat /input.txt > /copy\nENV DONE=yes\n"
    )
    base_layers = len(inspect(bb, "busybox")["Layers"])
    plain = build_context(bb, context)
    assert len(inspect(bb, plain)["Layers"]) == base_layers + 1
    layered = build_context(bb, context, "--layers")
    assert len(inspect(bb, layered)["Layers"]) == base_layers + 3
    output = bb("build", "--layers", str(context))
    # as buildah says it: the two RUNs, the COPY and the ENV that ends the stage
    assert output.count("--> Using cache") == 4
    assert output.splitlines()[-1] == layered
    (context / "input.txt").write_text("two")
    changed = bb("build", "--layers", str(context))
    assert changed.count("--> Using cache") == 1
    assert bb.run_in(changed.splitlines()[-1], "cat /copy") == "two"
    assert bb("build", "--layers", "--no-cache", str(context)).count("--> Using cache") == 0


def test_proxy_variables_reach_run_but_not_the_image(bb, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        'FROM busybox\nRUN echo "$http_proxy|$NO_PROXY" > /proxy.txt\n'
    )
    env = {**bb.env(), "http_proxy": "http://proxy.example:3128", "NO_PROXY": "localhost"}
    import subprocess

    result = subprocess.run(
        [bb.executable, "build", "-q", str(context)], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    image = result.stdout.split()[-1]
    assert bb.run_in(image, "cat /proxy.txt") == "http://proxy.example:3128|localhost"
    assert "proxy" not in json.dumps(inspect(bb, image)["Config"]["config"])
    result = subprocess.run(
        [bb.executable, "build", "-q", "--no-proxy", str(context)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert bb.run_in(result.stdout.split()[-1], "cat /proxy.txt") == "|"


BAD_DOCKERFILES = [
    ("FROM busybox\nBOGUS thing\n", "Dockerfile:2: unknown instruction: BOGUS"),
    ("RUN true\n", "Dockerfile:1: RUN before the first FROM"),
    ("# nothing\n", "Dockerfile: no FROM instruction"),
    (
        "FROM busybox\nSHELL /bin/sh -c\n",
        "Dockerfile:2: SHELL requires the arguments as a non-empty JSON array",
    ),
    ("FROM busybox\nCOPY missing.txt /\n", "Dockerfile:2: COPY"),
    ("FROM busybox\nCOPY ../outside /\n", "outside the build context"),
    (
        "FROM busybox\nCOPY --from=nostage /x /x\n",
        "Dockerfile:2: COPY --from=nostage: no stage, build context or image",
    ),
    ("FROM busybox\nARG NOVALUE\nENV X=$NOVALUE\n", "Dockerfile:3: ENV: ARG NOVALUE has no value"),
    ("FROM busybox\nHEALTHCHECK --interval=soon CMD true\n", "Dockerfile:2: HEALTHCHECK"),
    ("FROM nosuchimage\n", "Dockerfile:1: FROM"),
    ("FROM busybox AS " + "x" * 65 + "\n", "longer than 64 characters"),
    (
        "FROM busybox\nRUN --mount=type=sshd true\n",
        'Dockerfile:2: RUN --mount: type "sshd" is not one of bind, cache, tmpfs, secret, ssh',
    ),
    (
        "FROM busybox\nRUN --mount=type=bind,source=../..,target=/x true\n",
        'Dockerfile:2: RUN: --mount source "../..": outside its root',
    ),
    ("FROM busybox\nRUN --mount=type=cache true\n", "RUN --mount type=cache: target= is required"),
    ("FROM busybox\nADD https://example.com/file.tar local.txt /d/\n", "Dockerfile:2: ADD: URLs"),
    (
        "FROM busybox\nADD https://example.com/r.git local.txt /d/\n",
        "Dockerfile:2: ADD: a git repository must be the only source",
    ),
]


@pytest.mark.parametrize("text, message", BAD_DOCKERFILES)
def test_bad_dockerfiles_name_the_line_and_leave_nothing(bb, tmp_path, text, message):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(text)
    images_before = set(bb("images", "-q", "--notruncate").split())
    error = bb.fails("build", str(context))
    assert message in error
    assert len(error.strip().splitlines()) == 1
    no_leftovers(bb, images_before)


def test_failing_run_passes_status_and_keep_failed(bb, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox\nRUN echo before > /before\nENV STAGE=debug\n"
        "RUN echo partial > /partial; exit 7\n"
    )
    images_before = set(bb("images", "-q", "--notruncate").split())
    error = bb.fails("build", str(context), code=7)
    assert "Dockerfile:4: RUN" in error and "exit status 7" in error
    no_leftovers(bb, images_before)
    error = bb.fails("build", "--keep-failed", str(context), code=7)
    kept = error.split("kept the container before this step as ")[1].split(":")[0]
    assert bb("containers", "--noheading").split()[-1] == kept
    # exactly as before the failing step: the earlier RUN and ENV are there, the failing one's
    # file is not
    assert (
        bb(
            "run",
            kept,
            "--",
            "sh",
            "-c",
            "cat /before; echo $STAGE; test -e /partial || echo clean",
        )
        == "before\ndebug\nclean"
    )


def test_size_limits(bb, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\n" + "# padding\n" * 120_000)
    assert "1 MiB" in bb.fails("build", str(context))
    (context / "Dockerfile").write_text("FROM busybox\n")
    (context / ".dockerignore").write_text("x\n" * 600_000)
    assert ".dockerignore" in bb.fails("build", str(context))


def test_bad_flags(bb):
    assert "--build-static" in bb.fails(
        "build", "--build-static", "yesterday", str(bud_case("escape").context)
    )
    assert "--target" in bb.fails("build", "--target", "nostage", str(bud_case("escape").context))
    assert "lowercase" in bb.fails("build", "-t", "Bad", str(bud_case("escape").context))
    assert "not a directory" in bb.fails("build", "/nonexistent-context")


def test_cap_add_and_docker_format(bb, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN grep CapEff /proc/self/status > /caps\n")
    image = build_context(bb, context, "--cap-add", "SYS_ADMIN", "--format", "docker")
    capabilities = int(bb.run_in(image, "cat /caps").split()[1], 16)
    assert capabilities & (1 << 21)
    assert (
        inspect(bb, image)["Manifest"]["mediaType"]
        == "application/vnd.docker.distribution.manifest.v2+json"
    )


def test_platform_args_in_from_lines_need_no_declaration(bb, tmp_path):
    # BuildKit's rule (buildah 1.28 expands them to nothing there): the automatic platform ARGs
    # are in the global scope, so FROM lines may use them undeclared
    architecture = inspect(bb, "busybox")["Config"]["architecture"]
    bb("tag", "busybox", f"busybox:{architecture}")
    (tmp_path / "Dockerfile").write_text(
        'FROM busybox:$TARGETARCH\nRUN echo "[$TARGETARCH]" > /undeclared\n'
    )
    image = build_context(bb, tmp_path, "-t", "by-platform")
    ctr = bb("from", image)
    assert bb("run", ctr, "--", "cat", "/undeclared") == "[]"


def test_where_peers_disagree_bb_keeps_volume_changes_and_no_mount_points(bb, tmp_path):
    # classic docker and buildah 1.28 drop what a RUN writes under a declared VOLUME, BuildKit keeps
    # it, and so does bb; buildah leaves RUN's mount points (empty /dev, /proc, ...) in the image,
    # docker does not, nor does bb (README: "Where the peers disagree")
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nRUN mkdir /data\nVOLUME /data\nRUN echo kept > /data/f\n"
    )
    image = build_context(bb, tmp_path)
    ctr = bb("from", image)
    rootfs = Path(bb("mount", ctr))
    try:
        assert (rootfs / "data" / "f").read_text() == "kept\n"
        left = [
            name
            for name in ("dev", "proc", "sys", "etc/hosts", "etc/hostname", "etc/resolv.conf")
            if os.path.lexists(rootfs / name)
        ]
        assert left == []
    finally:
        bb("umount", ctr)


def test_secrets_reach_the_step_and_nothing_else(bb, tmp_path):
    secret = f"s3cr3t-{os.getpid()}-{os.urandom(8).hex()}"
    digest = hashlib.sha256(secret.encode()).hexdigest()
    (tmp_path / "token").write_text(secret)
    context = tmp_path / "context"
    context.mkdir()
    check = f"test $(sha256sum < /run/secrets/token | cut -d' ' -f1) = {digest}"
    (context / "Dockerfile").write_text(
        "FROM busybox\n"
        f"RUN --mount=type=secret,id=token {check} && stat -c %a /run/secrets/token > /mode\n"
        "RUN --mount=type=secret,id=token,target=/custom,mode=0440,uid=65534 "
        "stat -c '%a %u' /custom > /custom-stat\n"
        "RUN --mount=type=secret,id=from-env wc -c < /run/secrets/from-env > /env-length\n"
        "RUN --mount=type=secret,id=not-given test ! -e /run/secrets/not-given\n"
    )
    env = {**bb.env(), "SECRET_VARIABLE": secret}
    result = subprocess.run(
        [
            bb.executable,
            "build",
            "-q",
            "--layers",
            "--secret",
            f"id=token,src={tmp_path / 'token'}",
            "--secret",
            "id=from-env,env=SECRET_VARIABLE",
            str(context),
        ],
        env=env,
        cwd=bb.cwd,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout + result.stderr
    image = result.stdout.splitlines()[-1]
    ctr = bb("from", image)
    assert bb("run", ctr, "--", "cat", "/mode", "/custom-stat", "/env-length").split("\n") == [
        "400",
        "440 65534",
        str(len(secret)),
    ]
    assert bb("run", ctr, "--", "sh", "-c", "test -e /run || echo gone") == "gone"  # no mount point
    assert secret not in bb("inspect", ctr) + bb("inspect", "--type", "image", image)
    # not in any blob (layer tars are stored uncompressed), record, cache entry or temp file
    found = subprocess.run(
        ["grep", "-rlF", secret, str(bb.root), str(bb.runroot)], capture_output=True, text=True
    )
    assert found.stdout == ""
    (context / "Dockerfile").write_text(
        "FROM busybox\nRUN --mount=type=secret,id=x,required=true true\n"
    )
    error = bb.fails("build", str(context))
    assert error.strip() == (
        'Error: Dockerfile:2: RUN: --mount type=secret: no secret "x" given '
        "(bb build --secret id=x,src=FILE)"
    )


def test_cache_mounts_persist_across_builds_until_pruned(bb, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nRUN --mount=type=cache,id=counter,target=/c sh -c 'echo x >> /c/runs'\n"
        "RUN --mount=type=cache,id=counter,target=/c,sharing=locked wc -l < /c/runs > /runs\n"
    )
    counts = []
    for _ in range(2):
        ctr = bb("from", build_context(bb, tmp_path, "--no-cache"))
        counts.append(bb("run", ctr, "--", "cat", "/runs"))
        # the cache is the store's, never the image's
        assert bb("run", ctr, "--", "sh", "-c", "test -e /c || echo absent") == "absent"
    assert counts == ["1", "2"]
    assert bb("prune") == "removed 1 cache directory"
    ctr = bb("from", build_context(bb, tmp_path))
    assert bb("run", ctr, "--", "cat", "/runs") == "1"


def test_syntax_and_check_directives_are_noted_and_ignored(bb, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        "# syntax=docker/dockerfile:1.7\n# check=skip=all\nFROM busybox\nRUN true\n"
    )
    output = bb("build", str(tmp_path))
    assert "[Warning] # syntax= is ignored: bb's own Dockerfile frontend is used" in output
    assert "[Warning] # check= is ignored: bb's own Dockerfile frontend is used" in output
    assert "docker/dockerfile" not in output


@pytest.fixture
def file_server(tmp_path):
    """A local HTTP server: /files/NAME with a Last-Modified time, /moved/NAME redirecting there."""
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            name = self.path.rsplit("/", 1)[-1]
            if self.path.startswith("/moved/"):
                self.send_response(302)
                self.send_header("Location", f"/files/{name}")
                self.end_headers()
                return
            path = served / name
            if not self.path.startswith("/files/") or not path.is_file():
                self.send_error(404)
                return
            data = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Last-Modified", "Tue, 14 Nov 2023 22:13:20 GMT")  # 1700000000
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_add_from_a_url(bb, tmp_path, file_server):
    import tarfile

    served, url = file_server
    (served / "hello.txt").write_text("hello\n")
    with tarfile.open(served / "bundle.tar", "w") as bundle:
        bundle.add(served / "hello.txt", arcname="inside.txt")
    digest = hashlib.sha256(b"hello\n").hexdigest()
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox\n"
        f"ADD {url}/files/hello.txt /downloads/\n"
        f"ADD --checksum=sha256:{digest} {url}/moved/hello.txt /renamed.txt\n"
        f"ADD {url}/files/bundle.tar /bundle/\n"
    )
    ctr = bb("from", build_context(bb, context))
    stat = "stat -c '%a %Y %s' /downloads/hello.txt /renamed.txt; ls /bundle"
    assert bb("run", ctr, "--", "sh", "-c", stat).split("\n") == [
        "600 1700000000 6",
        "600 1700000000 6",
        "bundle.tar",  # docker's rule: a download is never unpacked
    ]
    # buildah 1.28 downloads the same way: mode 0600, Last-Modified as mtime
    (context / "Dockerfile").write_text(f"FROM scratch\nADD {url}/files/hello.txt /downloads/\n")
    with private_buildah(tmp_path / "buildah") as buildah:
        subprocess.run(
            [*buildah, "bud", "-q", "--isolation", "chroot", "-t", "add-url", str(context)],
            check=True,
            capture_output=True,
        )
        peer = subprocess.run(
            [*buildah, "from", "add-url"], check=True, capture_output=True, text=True
        ).stdout.strip()
        root = subprocess.run(
            [*buildah, "mount", peer], check=True, capture_output=True, text=True
        ).stdout.strip()
        info = os.stat(Path(root) / "downloads" / "hello.txt")
        assert (oct(info.st_mode & 0o7777), int(info.st_mtime), info.st_size) == (
            "0o600",
            1700000000,
            6,
        )
        subprocess.run([*buildah, "umount", peer], check=True, capture_output=True)
    (context / "Dockerfile").write_text(
        f"FROM busybox\nADD --checksum=sha256:{'0' * 64} {url}/files/hello.txt /x\n"
    )
    assert bb.fails("build", str(context)).strip() == (
        f"Error: Dockerfile:2: ADD: ADD {url}/files/hello.txt: "
        f"checksum mismatch: got sha256:{digest}"
    )
    (context / "Dockerfile").write_text(f"FROM busybox\nADD {url}/files/missing /x\n")
    assert bb.fails("build", str(context)).strip() == (
        f"Error: Dockerfile:2: ADD: ADD {url}/files/missing: the server answered 404 Not Found"
    )


def test_copy_parents_exclude_and_link(bb, tmp_path):
    # BuildKit's semantics as its Dockerfile reference gives them (docker 20.10's built-in
    # frontend and buildah 1.28 have neither flag)
    context = tmp_path / "context"
    for path in [
        "x/a.txt",
        "y/a.txt",
        "x/sub/c.txt",
        "x/sub/d.md",
        "src/keep.go",
        "src/notes.md",
        "src/deep/k.go",
        "src/deep/n.md",
        "hom1.txt",
        "hom2.go",
    ]:
        (context / path).parent.mkdir(parents=True, exist_ok=True)
        (context / path).write_text(path + "\n")
    os.chmod(context / "x", 0o750)
    os.utime(context / "x", (1600000000, 1600000000))
    (context / "Dockerfile").write_text(
        "FROM busybox\n"
        "COPY ./x/a.txt ./y/a.txt /no_parents/\n"
        "COPY --parents ./x/a.txt ./y/a.txt /parents/\n"
        "COPY --parents ./x/./sub/*.txt /pivot/\n"
        "COPY --exclude=*.md src/ /src/\n"
        "COPY --exclude=*.txt --exclude=*.md hom* /hom/\n"
        "COPY --link --parents=false x/a.txt /linked.txt\n"
        "ADD --exclude=deep src /added/\n"
    )
    ctr = bb("from", build_context(bb, context, "--layers"))
    listing = "find /no_parents /parents /pivot /src /hom /added /linked.txt | sort"
    assert bb("run", ctr, "--", "sh", "-c", listing).split("\n") == [
        "/added",
        "/added/keep.go",
        "/added/notes.md",
        "/hom",
        "/hom/hom2.go",
        "/linked.txt",
        "/no_parents",
        "/no_parents/a.txt",
        "/parents",
        "/parents/x",
        "/parents/x/a.txt",
        "/parents/y",
        "/parents/y/a.txt",
        "/pivot",
        "/pivot/sub",
        "/pivot/sub/c.txt",
        "/src",
        "/src/deep",
        "/src/deep/k.go",
        "/src/deep/n.md",  # `*.md` is one level, as in .dockerignore: `**/*.md` would take it
        "/src/keep.go",
    ]
    # a kept parent directory is a copy of the context's (mode and mtime)
    assert bb("run", ctr, "--", "stat", "-c", "%a %Y", "/parents/x") == "750 1600000000"
    # what --exclude leaves out is no part of the step's cache key: only the ADD that copies
    # the changed file runs again
    (context / "src" / "notes.md").write_text("changed\n")
    output = bb("build", "--layers", str(context))
    assert output.count("--> Using cache") == 6
    assert "--> Using cache" not in output.split("STEP 8/8")[1]
    (context / "Dockerfile").write_text("FROM busybox\nCOPY --parents=maybe x /x\n")
    assert bb.fails("build", str(context)).strip() == (
        "Error: Dockerfile:2: COPY --parents: expected true or false"
    )


def _tree(root: Path, paths: list[str]) -> dict[str, tuple]:
    """Type, mode, owner and contents of each of `paths` below `root`, and of what is below them."""
    found = {}
    for path in paths:
        top = root / path.lstrip("/")
        for entry in [top, *sorted(top.rglob("*"))] if top.is_dir() else [top]:
            info = entry.lstat()
            contents = entry.read_bytes() if entry.is_file() and not entry.is_symlink() else b""
            found["/" + str(entry.relative_to(root))] = (
                oct(info.st_mode),
                info.st_uid,
                info.st_gid,
                hashlib.sha256(contents).hexdigest(),
            )
    return found


@contextlib.contextmanager
def buildah_root(bb, tmp_path, context, *flags):
    """Build `context` with `buildah bud` (on bb's busybox) and `flags`; the image's root."""
    bb("save", "-o", str(tmp_path / "busybox.tar"), "busybox")
    with private_buildah(tmp_path / "buildah") as buildah:

        def run(*args: str) -> str:
            return subprocess.run(
                [*buildah, *args], check=True, capture_output=True, text=True
            ).stdout.strip()

        run("tag", run("pull", "-q", f"docker-archive:{tmp_path / 'busybox.tar'}"), "busybox")
        run("bud", "-q", "--isolation", "chroot", *flags, "-t", "peer", str(context))
        peer = run("from", "peer")
        try:
            yield Path(run("mount", peer))
        finally:
            run("umount", peer)


def test_build_contexts_as_buildah_uses_them(bb, tmp_path):
    other = tmp_path / "other"
    (other / "sub").mkdir(parents=True)
    (other / "sub" / "f").write_text("from the named context\n")
    os.chown(other / "sub" / "f", 1234, 1234)
    os.chmod(other / "sub" / "f", 0o640)
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM base\n"
        "COPY --from=other sub/f /copied\n"
        "COPY --from=other / /all/\n"
        "COPY --from=img /bin/busybox /from-image\n"
        "RUN --mount=from=other,source=sub/f,target=/m cat /m > /mounted\n"
    )
    contexts = [
        "--build-context",
        f"other={other}",
        "--build-context",
        "base=docker-image://busybox",
        "--build-context",
        "img=docker-image://busybox",
    ]
    paths = ["/copied", "/all", "/from-image", "/mounted"]
    ctr = bb("from", build_context(bb, context, *contexts))
    root = Path(bb("mount", ctr))
    try:
        ours = _tree(root, paths)
    finally:
        bb("umount", ctr)
    assert ours["/copied"][:3] == (oct(0o100640), 1234, 1234)
    with buildah_root(bb, tmp_path, context, *contexts) as peer_root:
        assert ours == _tree(peer_root, paths)
    # on BuildKit's terms (buildah 1.28 has neither): FROM a directory context starts from just
    # its files; oci-layout:// names an image in an OCI layout
    bb("push", "busybox", f"oci:{tmp_path / 'layout'}:latest")
    (context / "Dockerfile").write_text("FROM files\nCOPY --from=layout /etc/passwd /passwd\n")
    image = build_context(
        bb,
        context,
        "--build-context",
        f"files={other}",
        "--build-context",
        f"layout=oci-layout://{tmp_path / 'layout'}:latest",
    )
    ctr = bb("from", image)
    root = Path(bb("mount", ctr))
    try:
        assert sorted(str(path.relative_to(root)) for path in root.rglob("*")) == [
            "passwd",
            "sub",
            "sub/f",
        ]
        assert _tree(root, ["/sub/f"]) == {"/sub/f": ours["/all/sub/f"]}
    finally:
        bb("umount", ctr)
    for value, message in [
        ("x=https://example.com/a.tar", "only a directory, docker-image:// and oci-layout://"),
        (f"x={tmp_path / 'missing'}", "is not a directory"),
        ("x", "expected NAME=DIR or NAME=docker-image://REF"),
    ]:
        assert message in bb.fails("build", "--build-context", value, str(context))


def test_cache_mount_seeded_from_a_stage_and_bound_files_in_the_cache_key(bb, tmp_path):
    # BuildKit's terms (its reference): a cache `from=` starts as a copy of that stage's `source`
    (tmp_path / "bound.txt").write_text("first\n")
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox AS seed\n"
        "RUN mkdir -p /deps && echo seeded > /deps/a && chown 123:45 /deps/a\n"
        "FROM busybox\n"
        "RUN --mount=type=cache,id=c,from=seed,source=/deps,target=/cache "
        "sh -c 'cat /cache/a > /got; stat -c %u:%g /cache/a >> /got; echo more >> /cache/a'\n"
        "RUN --mount=type=cache,id=c,from=seed,source=/deps,target=/cache cat /cache/a > /second\n"
        "RUN --mount=type=bind,source=bound.txt,target=/b cat /b > /bound\n"
    )
    ctr = bb("from", build_context(bb, tmp_path, "--layers"))
    assert bb("run", ctr, "--", "cat", "/got", "/second", "/bound").split("\n") == [
        "seeded",
        "123:45",
        "seeded",
        "more",
        "first",
    ]
    # a changed bound file runs its step again (and only that one)
    (tmp_path / "bound.txt").write_text("second\n")
    output = bb("build", "--layers", str(tmp_path))
    # the step line shows the mounts, as buildah prints the instruction
    assert "[2/2] STEP 4/4: RUN --mount=type=bind,source=bound.txt,target=/b cat /b > /bound" in (
        output.split("\n")
    )
    assert "--> Using cache" not in output.split("STEP 4/4")[-1]
    assert output.count("--> Using cache") == 3
    ctr = bb("from", output.splitlines()[-1])
    assert bb("run", ctr, "--", "cat", "/bound") == "second"


@pytest.fixture
def ssh_agent(tmp_path):
    """A real ssh-agent holding one new key: (its socket, what `ssh-add -l` lists)."""
    import tempfile

    short = Path(tempfile.mkdtemp(prefix="bb-agent-", dir="/tmp"))  # a socket path has 108 bytes
    socket_path = short / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket_path)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if socket_path.exists():
                break
            subprocess.run(["sleep", "0.05"])
        subprocess.run(
            [
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "bb-test",
                "-f",
                tmp_path / "key",
            ],
            check=True,
        )
        env = {**os.environ, "SSH_AUTH_SOCK": str(socket_path)}
        subprocess.run(["ssh-add", "-q", tmp_path / "key"], env=env, check=True)
        listed = subprocess.run(
            ["ssh-add", "-l"], env=env, check=True, capture_output=True, text=True
        ).stdout.strip()
        yield socket_path, listed
    finally:
        agent.terminate()
        agent.wait()
        subprocess.run(["rm", "-rf", str(short)])


def test_ssh_mounts_forward_the_agent(bb, tmp_path, ssh_agent):
    socket_path, listed = ssh_agent
    # busybox has no ssh-add: the host's, with its libraries, bound from a build context
    tools = (
        "--mount=type=bind,from=tools,source=lib/x86_64-linux-gnu,target=/hostlib "
        "--mount=type=bind,from=tools,source=bin/ssh-add,target=/ssh-add"
    )
    ssh_add = "/hostlib/ld-linux-x86-64.so.2 --library-path /hostlib /ssh-add -l"
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox\n"
        f"RUN {tools} --mount=type=ssh sh -c '{ssh_add} > /keys; echo $SSH_AUTH_SOCK > /sock; "
        'stat -c "%a %u" $SSH_AUTH_SOCK >> /sock\'\n'
        f"RUN {tools} --mount=type=ssh,id=other,target=/tmp/agent,mode=0660,uid=1000 "
        f'sh -c \'SSH_AUTH_SOCK=/tmp/agent {ssh_add} > /other-keys; stat -c "%a %u" /tmp/agent '
        "> /other'\n"
        "RUN --mount=type=ssh,id=absent sh -c 'echo ${SSH_AUTH_SOCK:-unset} > /absent'\n"
    )
    flags = ["--build-context", "tools=/usr", "--ssh", f"default={socket_path}"]
    flags += ["--ssh", f"other={socket_path}"]
    ctr = bb("from", build_context(bb, context, *flags))
    assert bb("run", ctr, "--", "cat", "/keys", "/sock", "/other-keys", "/other", "/absent").split(
        "\n"
    ) == [listed, "/run/buildkit/ssh_agent.0", "600 0", listed, "660 1000", "unset"]
    # buildah 1.28 forwards the same way (its default socket mode is 0620, BuildKit's 0600)
    with buildah_root(bb, tmp_path, context, *flags) as peer_root:
        assert [(peer_root / name).read_text() for name in ["keys", "sock", "other", "absent"]] == [
            f"{listed}\n",
            "/run/buildkit/ssh_agent.0\n620 0\n",
            "660 1000\n",
            "unset\n",
        ]
    # nothing of the agent stays in the image
    assert bb("run", ctr, "--", "sh", "-c", "test -e /run/buildkit || echo gone") == "gone"
    (context / "Dockerfile").write_text("FROM busybox\nRUN --mount=type=ssh,required=true true\n")
    assert bb.fails("build", str(context)).strip() == (
        'Error: Dockerfile:2: RUN: --mount type=ssh: no ssh agent "default" given '
        "(bb build --ssh default=SOCKET)"
    )
    assert "is not a socket (only agent sockets are supported" in bb.fails(
        "build", "--ssh", f"default={tmp_path / 'key'}", str(context)
    )


def test_add_a_git_repository(bb, tmp_path):
    import http.server
    import threading

    def git(*args, cwd=tmp_path / "repo"):
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=cwd,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    (tmp_path / "repo" / "sub").mkdir(parents=True)
    git("init", "-q", "-b", "main")
    (tmp_path / "repo" / "a.txt").write_text("v1\n")
    (tmp_path / "repo" / "sub" / "s.txt").write_text("in sub\n")
    git("add", ".")
    git("commit", "-q", "-m", "one")
    git("tag", "v1")
    first = git("rev-parse", "HEAD")
    (tmp_path / "repo" / "a.txt").write_text("v2\n")
    git("commit", "-q", "-am", "two")
    served = tmp_path / "served"
    served.mkdir()
    git("clone", "-q", "--bare", str(tmp_path / "repo"), str(served / "repo.git"), cwd=tmp_path)
    git("update-server-info", cwd=served / "repo.git")  # git's "dumb" HTTP: plain files

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: Quiet(*a, directory=str(served))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    http_url = f"http://127.0.0.1:{server.server_address[1]}/repo.git"
    file_url = f"file://{served / 'repo.git'}"
    # a hook the user's git would run on checkout: bb's checkouts run none
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "post-checkout").write_text(f"#!/bin/sh\ntouch {tmp_path / 'hook-ran'}\n")
    os.chmod(hooks / "post-checkout", 0o755)
    (tmp_path / "gitconfig").write_text(f"[core]\n\thooksPath = {hooks}\n")
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox\n"
        f"ADD {http_url} /http/\n"
        f"ADD {http_url}#v1 /tag/\n"
        f"ADD {file_url}#main:sub /sub/\n"
        f"ADD --keep-git-dir=true {file_url}#{first} /kept/\n"
    )
    try:
        result = subprocess.run(
            [bb.executable, "build", "-q", str(context)],
            env={**bb.env(), "GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig")},
            cwd=bb.cwd,
            capture_output=True,
            text=True,
        )
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "hook-ran").exists()
    ctr = bb("from", result.stdout.splitlines()[-1])
    listing = (
        "cat /http/a.txt /tag/a.txt /sub/s.txt /kept/a.txt; ls -a /http /sub; ls /kept/.git/HEAD"
    )
    assert bb("run", ctr, "--", "sh", "-c", listing).split("\n") == [
        "v2",
        "v1",
        "in sub",
        "v1",
        "/http:",
        ".",
        "..",
        "a.txt",
        "sub",
        "",
        "/sub:",
        ".",
        "..",
        "s.txt",
        "/kept/.git/HEAD",
    ]
    (context / "Dockerfile").write_text(f"FROM busybox\nADD {file_url}#nosuchref /x/\n")
    assert bb.fails("build", str(context)).strip() == (
        f"Error: Dockerfile:2: ADD: ADD {file_url}: "
        "no branch, tag or commit 'nosuchref' in the repository"
    )
