"""`bb build --layers --cache-to/--cache-from`: a layer cache two machines (two stores) share
through one registry (TLS with client certificates and a password), as buildah 1.28 does."""

from __future__ import annotations

import json
import shutil
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@pytest.fixture
def host_marks() -> Iterator[tuple[int, list[str]]]:
    """An HTTP server on the host (RUN steps share its network): the paths it was asked for are
    the marks RUN steps leave, so a step that did not run asks for nothing."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            asked.append(self.path)
            body = self.path.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], asked
    server.shutdown()


def registry_options(tls_registry, directory: Path) -> list[str]:  # type: ignore[no-untyped-def]
    """--cert-dir (the registry's CA and a client pair) and --creds for the TLS registry."""
    directory.mkdir()
    for name in ("ca.crt", "client.cert", "client.key"):
        shutil.copy(tls_registry.certificates / name, directory / name)
    return ["--cert-dir", str(directory), "--creds", "tester:s3cret"]


def tags(tls_registry, certs: Path, repository: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The tags of a repository, from the registry's API."""
    import base64
    import ssl

    context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    context.load_cert_chain(str(certs / "client.cert"), str(certs / "client.key"))
    request = urllib.request.Request(
        f"https://{tls_registry.address}/v2/{repository}/tags/list",
        headers={"Authorization": "Basic " + base64.b64encode(b"tester:s3cret").decode()},
    )
    with urllib.request.urlopen(request, context=context) as answer:
        return sorted(json.load(answer)["tags"] or [])


def test_two_machines_share_the_layer_cache_through_a_registry(
    bb, empty_store_factory, tls_registry, host_marks, tmp_path
):
    port, asked = host_marks
    options = registry_options(tls_registry, tmp_path / "certs.d")
    base = f"{tls_registry.address}/shared/busybox:1"
    cache = f"{tls_registry.address}/shared/cache"
    bb("push", *options, "busybox", f"docker://{base}")
    dockerfile = (
        f"FROM {base}\n"
        f"RUN wget -q -O /first http://127.0.0.1:{port}/first\n"
        "COPY input.txt /\n"
        f"RUN wget -q -O /second http://127.0.0.1:{port}/second && cat /input.txt >> /second\n"
        "ENV DONE=yes\n"
    )
    contexts = []
    for machine in ("a", "b"):  # each machine has its own checkout of the same sources
        context = tmp_path / f"context-{machine}"
        context.mkdir()
        (context / "Dockerfile").write_text(dockerfile)
        (context / "input.txt").write_text("one")
        contexts.append(context)

    # machine A builds and fills the cache: every step's image under its key (4: the RUNs, the
    # COPY and the ENV that ends the stage)
    built = bb("build", *options, "--layers", "--cache-to", cache, str(contexts[0]))
    assert asked == ["/first", "/second"]
    assert built.count(f"--> Pushing cache {cache}:") == 4
    pushed = tags(tls_registry, tmp_path / "certs.d", "shared/cache")
    assert len(pushed) == 4
    image = built.splitlines()[-1]

    # machine B, with nothing in its store, pulls the base and every step: no RUN runs, and the
    # image is the same
    other = empty_store_factory("machine-b", "overlay")
    from_cache = other(
        "build", *options, "--layers", "--cache-from", f"docker://{cache}", str(contexts[1])
    )
    assert asked == ["/first", "/second"]
    assert from_cache.count("--> Cache pulled from remote") == 4
    assert from_cache.count("--> Using cache") == 4
    assert from_cache.splitlines()[-1] == image
    assert other.run_in(image, "cat /second") == "/secondone"
    assert other("containers", "-q") == ""

    # a changed file on B: the steps before its COPY come from the cache, the COPY and every
    # step after it run, and (with --cache-to) reach the registry for A
    (contexts[1] / "input.txt").write_text("two")
    changed = other(
        "build", *options, "--layers", "--cache-from", cache, "--cache-to", cache, str(contexts[1])
    )
    assert asked == ["/first", "/second", "/second"]
    assert changed.count("--> Using cache") == 1
    changed_image = changed.splitlines()[-1]
    assert changed_image != image
    assert other.run_in(changed_image, "cat /second") == "/secondtwo"
    assert len(tags(tls_registry, tmp_path / "certs.d", "shared/cache")) == 4 + 3

    # A takes B's new steps from the registry
    (contexts[0] / "input.txt").write_text("two")
    again = bb("build", *options, "--layers", "--cache-from", cache, str(contexts[0]))
    assert asked == ["/first", "/second", "/second"]
    assert again.count("--> Cache pulled from remote") == 3
    assert again.splitlines()[-1] == changed_image

    # --cache-ttl: a cached image created longer ago is not used, here or in the registry
    third = empty_store_factory("machine-c", "overlay")
    stale = third(
        "build", *options, "--layers", "--cache-from", cache, "--cache-ttl", "1ms",
        str(contexts[0]),
    )  # fmt: skip
    assert "--> Using cache" not in stale
    assert asked == ["/first", "/second", "/second", "/first", "/second"]


def test_cache_flags_errors(bb, tls_registry, tmp_path):
    certs = registry_options(tls_registry, tmp_path / "certs.d")[:2]
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo one > /one\n")
    cache = f"{tls_registry.address}/errors/cache"
    for value in (f"{cache}:tag", f"{cache}@sha256:{'0' * 64}", "Not/Valid", ""):
        error = bb.fails("build", "--layers", "--cache-to", value, str(context))
        assert error.count("Error:") == 1 and "--cache-to" in error, error
    assert "--cache-ttl" in bb.fails("build", "--layers", "--cache-ttl", "soon", str(context))
    # as buildah: ignored without --layers (bb says so)
    plain = bb("build", "--cache-to", cache, str(context))
    assert "ignored without --layers" in plain and "Pushing cache" not in plain
    # a cache that cannot be read only means the step runs; one that cannot be written fails
    # the build at the step, naming it
    unreadable = bb(
        "build", "--layers", "--retry=0", *certs, "--creds", "tester:wrong", "--cache-from", cache,
        str(context),
    )  # fmt: skip
    assert "[Warning] cache not pulled from" in unreadable
    error = bb.fails("build", "--layers", "--retry=0", "--cache-to", cache, str(context))
    assert error.count("Error:") == 1 and "Dockerfile:2: RUN: pushing cache to" in error, error
