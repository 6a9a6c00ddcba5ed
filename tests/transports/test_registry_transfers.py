"""What registries in the world do to transfers, played in front of a real docker-registry by a
small proxy on 127.0.0.1: redirects of blob GETs to another host (object storage, a CDN), 5xx and
429 answers, connections broken off mid-body (resumed with Range, or sent whole again), several
layers fetched or pushed at once, and connections kept open for the next request."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

# A hook sees each request (method, path, headers) and may answer it itself: return
# (status, headers, body) to answer so, "drop" to forward and break the body off half-way,
# "corrupt" to forward it with its last byte changed, or None to forward it as it is.
Hook = Callable[[str, str, dict[str, str]], "tuple[int, dict[str, str], bytes] | str | None"]


@dataclass
class Proxy:
    """An HTTP server forwarding to `upstream` (a registry), answering as `hook` says."""

    upstream: str
    hook: Hook = lambda method, path, headers: None
    #: (method, path, headers) of every request that came in
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    #: blob transfers (GETs, upload PATCHes and PUTs) being answered right now, and the most
    #: there were at once
    in_flight: int = 0
    most_in_flight: int = 0
    #: seconds each blob transfer waits before it is answered
    blob_delay: float = 0.0
    #: the client's (address, port) of each request: one per connection
    connections: list[tuple[str, int]] = field(default_factory=list)
    #: close each connection after one answer without saying so (as a server whose keep-alive
    #: timeout passed while the connection stood idle)
    close_after_answer: bool = False
    #: credentials the proxy adds upstream (a storage host that knows the registry's)
    upstream_authorization: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def handle_any(self) -> None:
                headers = {name: value for name, value in self.headers.items()}
                length = int(headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                proxy.seen.append((self.command, self.path, dict(headers)))
                proxy.connections.append(self.client_address)
                if proxy.close_after_answer:
                    self.close_connection = True
                answer = proxy.hook(self.command, self.path, headers)
                if isinstance(answer, tuple):
                    status, extra, content = answer
                    self.send_response(status)
                    for name, value in {"Content-Length": str(len(content)), **extra}.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(content)
                    return
                transfer = (self.command == "GET" and "/blobs/sha256:" in self.path) or (
                    self.command in ("PATCH", "PUT") and "/blobs/uploads/" in self.path
                )
                if transfer:
                    with proxy.lock:
                        proxy.in_flight += 1
                        proxy.most_in_flight = max(proxy.most_in_flight, proxy.in_flight)
                    time.sleep(proxy.blob_delay)
                try:
                    self.forward(headers, body, answer)
                finally:
                    if transfer:
                        with proxy.lock:
                            proxy.in_flight -= 1

            def forward(self, headers: dict[str, str], body: bytes, how: str | None) -> None:
                upstream = http.client.HTTPConnection(proxy.upstream, timeout=30)
                if proxy.upstream_authorization:
                    headers = {**headers, "Authorization": proxy.upstream_authorization}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                content = response.read()
                upstream.close()
                if how == "corrupt" and content:
                    content = content[:-1] + bytes([content[-1] ^ 1])
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if how != "drop":
                    self.wfile.write(content)
                    return
                self.wfile.write(content[: len(content) // 2])
                self.wfile.flush()
                time.sleep(0.3)  # what was sent is read before the reset discards it
                # linger 0: the close sends a TCP reset, as a dropped connection does
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                for opened in (self.wfile, self.rfile, self.connection):
                    opened.close()

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def blob_gets(self) -> list[tuple[str, str, dict[str, str]]]:
        return [seen for seen in self.seen if seen[0] == "GET" and "/blobs/sha256:" in seen[1]]


@pytest.fixture
def proxies(auth_registry) -> Iterator[Callable[..., Proxy]]:  # type: ignore[no-untyped-def]
    """Make proxies in front of the registry that wants a password; stopped at the end."""
    made: list[Proxy] = []

    def make(**settings: object) -> Proxy:
        proxy = Proxy(auth_registry.address, **settings)  # type: ignore[arg-type]
        proxy.start()
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.stop()


CREDS = ["--creds", "tester:s3cret"]
BASIC = "Basic " + base64.b64encode(b"tester:s3cret").decode()


@pytest.fixture
def pushed(bb, auth_registry) -> str:  # type: ignore[no-untyped-def]
    """busybox pushed to the registry (directly): its repository and tag."""
    bb("push", *CREDS, "busybox", f"docker://{auth_registry.address}/world/busybox:1")
    return "world/busybox:1"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_blob_gets_follow_redirects_to_another_host_without_the_authorization(
    bb, pushed, proxies, empty_store_factory, status
):
    # the storage host reaches the registry with credentials of its own, as a signed URL would
    storage = proxies(upstream_authorization=BASIC)
    front = proxies()

    def redirect_blobs(method: str, path: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
        if method == "GET" and "/blobs/sha256:" in path:
            return status, {"Location": f"http://localhost:{storage.port}{path}"}, b""
        return None

    front.hook = redirect_blobs
    other = empty_store_factory("other", "overlay")
    image_id = other("pull", *CREDS, "-q", f"127.0.0.1:{front.port}/{pushed}")
    assert image_id == bb("images", "-q", "--notruncate", "busybox")
    assert storage.blob_gets() and len(storage.blob_gets()) == len(front.blob_gets())
    assert all("Authorization" in headers for _, _, headers in front.blob_gets())
    assert not any("Authorization" in headers for _, _, headers in storage.seen)


def test_redirected_content_is_still_verified_and_redirects_are_bounded(
    bb, pushed, proxies, empty_store_factory
):
    # the storage host sends each blob with its last byte changed: refused by its digest
    storage = proxies(upstream_authorization=BASIC, hook=lambda *request: "corrupt")
    front = proxies()

    def redirect_blobs(method: str, path: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
        if method == "GET" and "/blobs/sha256:" in path:
            return 307, {"Location": f"http://localhost:{storage.port}{path}"}, b""
        return None

    front.hook = redirect_blobs
    other = empty_store_factory("other", "overlay")
    assert "content with digest" in other.fails("pull", *CREDS, f"127.0.0.1:{front.port}/{pushed}")

    def loop(method: str, path: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
        if method == "GET" and "/blobs/sha256:" in path:
            return 302, {"Location": path}, b""
        return None

    front.hook = loop
    assert "more than 10 redirects" in other.fails(
        "pull", *CREDS, f"127.0.0.1:{front.port}/{pushed}"
    )
    assert not other("images", "-q")


def config_digest(bb, image: str = "busybox") -> str:  # type: ignore[no-untyped-def]
    return json.loads(bb("inspect", "-t", "image", image))["Manifest"]["config"]["digest"]


def failing(times: int, answer: object, when: Callable[[str, str], bool]) -> Hook:
    """A hook answering `answer` to the first `times` requests `when` picks."""
    left = [times]

    def hook(method: str, path: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
        if when(method, path) and left[0] > 0:
            left[0] -= 1
            return answer
        return None

    return hook


def test_5xx_and_429_are_tried_again(bb, pushed, proxies, empty_store_factory):
    front = proxies()
    address = f"127.0.0.1:{front.port}/{pushed}"
    busy = (503, {}, b'{"errors":[{"code":"UNAVAILABLE"}]}')
    front.hook = failing(2, busy, lambda method, path: "/manifests/" in path)
    other = empty_store_factory("other", "overlay")
    # two failures, one retry: the second failure is the error
    assert "HTTP 503" in other.fails("pull", *CREDS, "--retry=1", "--retry-delay=10ms", address)
    front.hook = failing(2, busy, lambda method, path: "/manifests/" in path)
    started = time.monotonic()
    other("pull", *CREDS, "--retry-delay=200ms", address)
    # waits of 200 ms, then 400 ms (doubled)
    assert time.monotonic() - started >= 0.6
    other("rmi", "-a")
    front.hook = failing(
        1,
        (429, {"Retry-After": "2"}, b""),
        lambda method, path: "/blobs/sha256:" in path,
    )
    started = time.monotonic()
    image_id = other("pull", *CREDS, "-q", "--retry-delay=10ms", address)
    assert time.monotonic() - started >= 2  # Retry-After, not --retry-delay
    assert image_id == bb("images", "-q", "--notruncate", "busybox")


def test_push_is_tried_again_after_5xx(bb, auth_registry, proxies):
    front = proxies()
    front.hook = failing(
        2, (500, {}, b"oops"), lambda method, path: method in ("PUT", "PATCH", "POST")
    )
    ctr = bb("from", "busybox")
    bb("run", ctr, "--", "sh", "-c", "echo retried > /retried")
    bb("commit", "--rm", ctr, "retried")
    bb(
        "push",
        *CREDS,
        "--retry-delay=10ms",
        "retried",
        f"docker://127.0.0.1:{front.port}/world/r:1",
    )
    assert sum(1 for method, _, _ in front.seen if method in ("PUT", "POST")) >= 4
    result = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", "--creds", "tester:s3cret",
         f"docker://{auth_registry.address}/world/r:1"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["Digest"].startswith("sha256:")


@pytest.mark.parametrize("registry_ranges", [True, False], ids=["range", "whole-again"])
def test_a_broken_blob_download_resumes(bb, pushed, proxies, empty_store_factory, registry_ranges):
    config = config_digest(bb)
    front = proxies()
    dropped: list[str] = []

    def drop_once(method: str, path: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
        if method != "GET" or "/blobs/sha256:" not in path or config in path:
            return None
        if not registry_ranges:
            headers.pop("Range", None)  # as a registry that does not serve ranges
        if path in dropped:
            return None
        dropped.append(path)
        return "drop"

    front.hook = drop_once
    other = empty_store_factory("other", "overlay")
    image_id = other("pull", *CREDS, "-q", "--retry-delay=10ms", f"127.0.0.1:{front.port}/{pushed}")
    assert image_id == bb("images", "-q", "--notruncate", "busybox")
    again = [headers for _, path, headers in front.blob_gets() if path == dropped[0]]
    assert len(again) == 2
    # the second request asks for the rest only (the proxy passes that on, or drops it)
    assert re.fullmatch(r"bytes=[1-9][0-9]*-", again[1].get("Range", ""))


def test_three_layers_are_fetched_at_once(
    bb, auth_registry, proxies, empty_store_factory, tmp_path
):
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\n" + "".join(f"RUN echo {n} > /{n}\n" for n in range(5))
    )
    bb("build", "--layers", "-t", "layered", str(tmp_path))
    assert len(json.loads(bb("inspect", "-t", "image", "layered"))["Layers"]) == 6
    bb("push", *CREDS, "layered", f"docker://{auth_registry.address}/world/layered:1")
    front = proxies(blob_delay=0.5)
    other = empty_store_factory("other", "overlay")
    image_id = other("pull", *CREDS, "-q", f"127.0.0.1:{front.port}/world/layered:1")
    assert image_id == bb("images", "-q", "--notruncate", "layered")
    assert front.most_in_flight == 3


def test_refused_connections_are_tried_again(bb):
    started = time.monotonic()
    error = bb.fails("pull", "--retry=2", "--retry-delay=200ms", "127.0.0.1:1/nothing/here:1")
    assert "cannot connect" in error and "Connection refused" in error
    assert time.monotonic() - started >= 0.6
    # each retry noted on stderr (off a terminal, a line each), then the one error
    lines = error.splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == [
        "Retrying in 0.2s (1/2)",
        "Retrying in 0.4s (2/2)",
    ], error
    assert len(lines) == 3 and lines[2].startswith("Error: "), error


def uploads(proxy: Proxy) -> list[str]:
    """The digests of the blob uploads finished through the proxy, in the order they came in."""
    return [
        re.sub(r".*[?&]digest=", "", path).replace("%3A", ":")
        for method, path, _ in proxy.seen
        if method == "PUT" and "/blobs/uploads/" in path
    ]


def layered_image(bb, tmp_path, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    """An image of busybox and five small layers of its own: its config's digest and diff IDs."""
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\n" + "".join(f"RUN echo {name} {n} > /{n}\n" for n in range(5))
    )
    bb("build", "--layers", "-t", name, str(tmp_path))
    return json.loads(bb("inspect", "-t", "image", name))["Layers"]


def test_three_layers_are_pushed_at_once_then_the_config_and_manifest(
    bb, auth_registry, proxies, tmp_path
):
    assert len(layered_image(bb, tmp_path, "pushed-at-once")) == 6
    front = proxies(blob_delay=0.5)
    bb("push", *CREDS, "pushed-at-once", f"docker://127.0.0.1:{front.port}/world/at-once:1")
    assert front.most_in_flight == 3
    config = config_digest(bb, "pushed-at-once")
    sent = uploads(front)
    assert len(sent) == 7 and sent[-1] == config, sent
    assert [method for method, path, _ in front.seen if "/manifests/" in path] == ["PUT"]
    assert "/manifests/" in front.seen[-1][1]


def test_a_failed_layer_stops_the_others_and_no_manifest_is_pushed(
    bb, auth_registry, proxies, tmp_path
):
    layered_image(bb, tmp_path, "push-fails")
    front = proxies(blob_delay=0.5)
    refused: list[str] = []

    def refuse_the_first_upload(method: str, path: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
        if method == "PUT" and "/blobs/uploads/" in path and not refused:
            refused.append(path)
            return (400, {}, b'{"errors": [{"code": "BLOB_UPLOAD_INVALID"}]}')
        return None

    front.hook = refuse_the_first_upload
    error = bb.fails("push", *CREDS, "push-fails", f"docker://127.0.0.1:{front.port}/world/f:1")
    assert "HTTP 400" in error and "BLOB_UPLOAD_INVALID" in error, error
    # the uploads under way when it failed end (or stop); the three layers waiting never start
    assert 1 <= len(uploads(front)) <= 3, uploads(front)
    assert not [path for _, path, _ in front.seen if "/manifests/" in path]


def test_connections_are_kept_for_the_next_request(bb, auth_registry, proxies, tmp_path):
    """One upload's POST, PATCH and PUT, and the requests after, go on connections already
    open; the 30 MB layer goes up in one PATCH."""
    (tmp_path / "big").write_bytes(os.urandom(30 << 20))
    (tmp_path / "Dockerfile").write_text("FROM busybox\nCOPY big /big\n")
    bb("build", "-t", "kept-open", str(tmp_path))
    front = proxies()
    bb("push", *CREDS, "kept-open", f"docker://127.0.0.1:{front.port}/world/kept:1")
    patches = [headers for method, _, headers in front.seen if method == "PATCH"]
    assert len(patches) == 1 and int(patches[0]["Content-Length"]) > 30 << 20
    # a connection per request would be as many as the requests (about 15)
    assert len(front.seen) >= 12 and len(set(front.connections)) <= 4, front.connections


def test_connections_the_server_closed_are_not_used(bb, auth_registry, proxies, tmp_path):
    layered_image(bb, tmp_path, "closed-idle")
    front = proxies(close_after_answer=True)
    # no --retry: a connection found closed is no failure to try again after
    bb(
        "push",
        *CREDS,
        "--retry=0",
        "closed-idle",
        f"docker://127.0.0.1:{front.port}/world/closed:1",
    )
    assert len(set(front.connections)) == len(front.seen)
    assert len(uploads(front)) == 7
