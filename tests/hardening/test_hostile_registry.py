"""A hostile registry (a small HTTP server on 127.0.0.1 run by the test): what it sends is refused,
quickly, with one `Error:` line, and leaves nothing in the store."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import socket
import struct
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from testbed import error_lines

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
REPOSITORY = "hostile/image"
NOT_FOUND = b'{"errors":[{"code":"NOT_FOUND"}]}'


@pytest.fixture
def driver() -> str:
    """What a registry sends meets the same code on every driver: overlay only."""
    return "overlay"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# A route's answer: (status, headers, body); a callable body writes to the socket itself.
Answer = tuple[int, dict[str, str], "bytes | Callable[[BaseHTTPRequestHandler], None]"]


class HostileRegistry:
    """The Registry v2 API's read side (GET /v2/, manifests, blobs), answering what a test sets."""

    def __init__(self) -> None:
        self.routes: dict[str, Answer] = {}
        self.sent = 0
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                default: tuple[int, dict[str, str], bytes] = (
                    (200, {}, b"{}") if path == "/v2/" else (404, {}, NOT_FOUND)
                )
                status, headers, body = registry.routes.get(path, default)
                self.send_response(status)
                if not callable(body):
                    headers = {"Content-Length": str(len(body)), **headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    if callable(body):
                        body(self)
                    else:
                        self.wfile.write(body)
                        registry.sent += len(body)
                except OSError:
                    pass  # bb hung up, as it should

            do_HEAD = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def serve_image(self, config: bytes, layer: bytes, manifest: bytes, tag: str = "1") -> None:
        """Answer for a manifest under `tag` and the config and layer blobs."""
        self.routes[f"/v2/{REPOSITORY}/manifests/{tag}"] = (
            200,
            {"Content-Type": OCI_MANIFEST},
            manifest,
        )
        self.routes[f"/v2/{REPOSITORY}/blobs/{digest_of(config)}"] = (200, {}, config)
        self.routes[f"/v2/{REPOSITORY}/blobs/{digest_of(layer)}"] = (200, {}, layer)

    def endless(self, chunked: bool = True) -> Callable[[BaseHTTPRequestHandler], None]:
        """A body that never ends: zeros, chunked or until the connection closes."""

        def write(handler: BaseHTTPRequestHandler) -> None:
            block = b"\0" * 65536
            piece = b"%x\r\n%s\r\n" % (len(block), block) if chunked else block
            while True:
                handler.wfile.write(piece)
                self.sent += len(block)

        return write


def chunked(data: bytes) -> Callable[[BaseHTTPRequestHandler], None]:
    """A body of `data` in chunked transfer encoding (no Content-Length)."""

    def write(handler: BaseHTTPRequestHandler) -> None:
        for start in range(0, len(data), 65536):
            block = data[start : start + 65536]
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
        handler.wfile.write(b"0\r\n\r\n")

    return write


@pytest.fixture
def hostile() -> Iterator[HostileRegistry]:
    """A hostile registry on 127.0.0.1, serving until the test ends."""
    registry = HostileRegistry()
    thread = threading.Thread(target=registry.server.serve_forever, daemon=True)
    thread.start()
    yield registry
    registry.server.shutdown()
    registry.server.server_close()


def make_layer() -> tuple[bytes, bytes]:
    """A gzip-compressed layer holding one file: (tar, compressed)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("hello")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"hello\n"))
    return buffer.getvalue(), gzip.compress(buffer.getvalue(), mtime=0)


def make_config(diff_id: str, env: str = "PATH=/bin") -> bytes:
    return json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": [env]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    ).encode()


def make_manifest(config: bytes, layer: bytes, /, **changes: object) -> bytes:
    document: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest_of(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest_of(layer),
                "size": len(layer),
            }
        ],
    }
    document.update(changes)
    return json.dumps(document).encode()


def store_tree(bb) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Every file and directory of the store and run root with its size (lock files aside)."""
    tree = {}
    for top in (bb.root, bb.runroot):
        for path in Path(top).rglob("*"):
            if path.name.endswith(".lock") or path.parent.name == "locks":
                continue
            tree[str(path)] = path.lstat().st_size if path.is_file() else 0
    return tree


def pull_fails(
    bb,
    hostile: HostileRegistry,
    tag: str = "1",  # type: ignore[no-untyped-def]
    within: float = 30,
    verb: str = "pull",
) -> str:
    """`bb pull` (or `from`) of `tag`: one `Error:` line, within seconds; the store unchanged."""
    before = store_tree(bb)
    started = time.monotonic()
    # bb tries again after failures (test_registry_retries.py): here, with short waits
    result = bb.run(
        verb,
        "--retry-delay=10ms",
        f"docker://{hostile.address}/{REPOSITORY}:{tag}",
        check=False,
        timeout=within * 2,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 125, result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert hostile.address in lines[0], lines[0]
    assert elapsed < within, f"bb took {elapsed:.1f} s to give up"
    assert store_tree(bb) == before
    return lines[0]


@pytest.fixture
def image(hostile: HostileRegistry) -> tuple[bytes, bytes, bytes]:
    """A well-formed image (config, layer, manifest) the hostile registry serves under :1."""
    tar, layer = make_layer()
    config = make_config(digest_of(tar))
    manifest = make_manifest(config, layer)
    hostile.serve_image(config, layer, manifest)
    return config, layer, manifest


def test_a_well_formed_image_pulls(bb, hostile, image):
    config, _, _ = image
    assert bb("pull", "-q", f"{hostile.address}/{REPOSITORY}:1") == digest_of(config).split(":")[1]


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "until-close"])
def test_endless_layer_is_cut_off_at_its_size(bb, hostile, image, chunked):
    _, layer, _ = image
    if chunked:
        hostile.routes[f"/v2/{REPOSITORY}/blobs/{digest_of(layer)}"] = (
            200,
            {"Transfer-Encoding": "chunked"},
            hostile.endless(True),
        )
    else:
        hostile.routes[f"/v2/{REPOSITORY}/blobs/{digest_of(layer)}"] = (
            200,
            {"Connection": "close"},
            hostile.endless(False),
        )
    error = pull_fails(bb, hostile, within=20)
    assert "more than" in error and str(len(layer)) in error
    # bb stopped reading at once: what the server got out is what the socket buffers hold
    assert hostile.sent < 64 << 20


def test_content_length_beyond_the_descriptor_is_refused_before_reading(bb, hostile, image):
    _, layer, _ = image
    hostile.routes[f"/v2/{REPOSITORY}/blobs/{digest_of(layer)}"] = (
        200,
        {"Content-Length": str(3 << 30)},
        hostile.endless(False),
    )
    error = pull_fails(bb, hostile, within=20)
    assert "announces" in error and str(3 << 30) in error
    assert hostile.sent < 64 << 20


def test_short_layer_is_refused(bb, hostile, image):
    _, layer, _ = image
    hostile.routes[f"/v2/{REPOSITORY}/blobs/{digest_of(layer)}"] = (200, {}, layer[:-10])
    assert f"sent {len(layer) - 10} of the {len(layer)} bytes" in pull_fails(bb, hostile)


def test_config_of_another_digest_is_refused(bb, hostile, image):
    config, _, _ = image
    # same size, another Env: only the digest tells them apart
    other = make_config(json.loads(config)["rootfs"]["diff_ids"][0], env="PATH=/evi")
    assert len(other) == len(config)
    hostile.routes[f"/v2/{REPOSITORY}/blobs/{digest_of(config)}"] = (200, {}, other)
    for verb in ("pull", "from"):
        error = pull_fails(bb, hostile, verb=verb)
        assert f"blob {REPOSITORY}@{digest_of(config)}" in error and digest_of(other) in error


def test_config_longer_than_its_descriptor_is_refused(bb, hostile, image):
    config, _, _ = image
    longer = config + b" " * 10
    hostile.routes[f"/v2/{REPOSITORY}/blobs/{digest_of(config)}"] = (200, {}, longer)
    error = pull_fails(bb, hostile)
    assert f"announces {len(longer)} bytes, its descriptor gives {len(config)}" in error
    hostile.routes[f"/v2/{REPOSITORY}/blobs/{digest_of(config)}"] = (
        200,
        {"Transfer-Encoding": "chunked"},
        chunked(longer),
    )
    assert f"more than the {len(config)} bytes" in pull_fails(bb, hostile)


def test_manifest_of_5_mib_is_refused(bb, hostile, image):
    config, layer, _ = image
    big = make_manifest(config, layer, annotations={"padding": "x" * (5 << 20)})
    hostile.routes[f"/v2/{REPOSITORY}/manifests/1"] = (200, {"Content-Type": OCI_MANIFEST}, big)
    assert "larger than 4194304 bytes" in pull_fails(bb, hostile)
    # the same without a Content-Length: refused at 4 MiB, not read whole
    hostile.routes[f"/v2/{REPOSITORY}/manifests/1"] = (
        200,
        {"Content-Type": OCI_MANIFEST, "Transfer-Encoding": "chunked"},
        chunked(big),
    )
    assert "larger than 4194304 bytes" in pull_fails(bb, hostile)
    hostile.routes[f"/v2/{REPOSITORY}/manifests/1"] = (
        200,
        {"Content-Type": OCI_MANIFEST, "Transfer-Encoding": "chunked"},
        hostile.endless(True),
    )
    assert "larger than 4194304 bytes" in pull_fails(bb, hostile, within=20)


def test_endless_token_is_refused(bb, hostile, image):
    realm = f"http://{hostile.address}/token"
    hostile.routes[f"/v2/{REPOSITORY}/manifests/1"] = (
        401,
        {"WWW-Authenticate": f'Bearer realm="{realm}",service="hostile"'},
        b"",
    )
    hostile.routes["/token"] = (200, {"Transfer-Encoding": "chunked"}, hostile.endless(True))
    assert "token server" in pull_fails(bb, hostile, within=20)


def test_manifest_nested_1000_deep_is_refused(bb, hostile, image):
    config, layer, _ = image
    nested = b"[" * 1000 + b"]" * 1000
    deep = make_manifest(config, layer)[:-1] + b', "annotations": ' + nested + b"}"
    hostile.routes[f"/v2/{REPOSITORY}/manifests/1"] = (200, {"Content-Type": OCI_MANIFEST}, deep)
    assert "nested deeper than 64 levels" in pull_fails(bb, hostile)


@pytest.mark.parametrize(
    "changes",
    [
        {"layers": "x"},
        {"config": 5},
        {"config": {"digest": ["sha256:0"], "size": 10}},
        {"layers": [{"digest": "sha256:../../../v2/_catalog", "size": 10}]},
        {"layers": [{"digest": "sha256:" + "0" * 64, "size": "lots"}]},
        {"layers": [{"digest": "sha256:" + "0" * 64, "size": -1}]},
        {"layers": [None]},
    ],
    ids=[
        "layers-string",
        "config-number",
        "digest-list",
        "digest-path",
        "size-string",
        "size-negative",
        "layer-null",
    ],
)
def test_wrongly_typed_manifest_is_refused(bb, hostile, image, changes):
    config, layer, _ = image
    hostile.routes[f"/v2/{REPOSITORY}/manifests/1"] = (
        200,
        {"Content-Type": OCI_MANIFEST},
        make_manifest(config, layer, **changes),
    )
    assert f"pulling {hostile.address}/{REPOSITORY}:1: " in pull_fails(bb, hostile)


def test_manifest_list_entry_of_another_digest_is_refused(bb, hostile, image):
    _, _, manifest = image
    entry = {
        "mediaType": OCI_MANIFEST,
        "digest": digest_of(manifest + b" "),
        "size": len(manifest) + 1,
        "platform": {"os": "linux", "architecture": "amd64"},
    }
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [entry],
        }
    ).encode()
    hostile.routes[f"/v2/{REPOSITORY}/manifests/list"] = (
        200,
        {"Content-Type": "application/vnd.oci.image.index.v1+json"},
        index,
    )
    hostile.routes[f"/v2/{REPOSITORY}/manifests/{digest_of(manifest + b' ')}"] = (
        200,
        {"Content-Type": OCI_MANIFEST},
        manifest,
    )
    assert "content with digest" in pull_fails(bb, hostile, tag="list")


def test_server_errors_and_resets_are_one_line(bb, hostile, image):
    _, layer, _ = image
    blob = f"/v2/{REPOSITORY}/blobs/{digest_of(layer)}"
    hostile.routes[blob] = (500, {}, b"down\nfor\r\nrepair\x1b[2J" + b"x" * (8 << 20))
    assert "HTTP 500 down for repair?[2Jxxx" in pull_fails(bb, hostile)

    def reset(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(layer[:20])
        handler.wfile.flush()
        # linger 0: the close (of the socket and the handler's files on it) sends a TCP reset
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.close_connection = True
        for opened in (handler.wfile, handler.rfile, handler.connection):
            opened.close()

    hostile.routes[blob] = (200, {"Content-Length": str(len(layer))}, reset)
    assert "reading failed" in pull_fails(bb, hostile)
    hostile.routes[f"/v2/{REPOSITORY}/manifests/1"] = (
        200,
        {"Content-Type": OCI_MANIFEST},
        b"not json",
    )
    assert "not valid JSON" in pull_fails(bb, hostile)
