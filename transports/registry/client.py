"""The HTTP side of `docker://`: one repository on one registry, its authentication and its API.

TLS unless --tls-verify=false, registries.toml's insecure list or a local registry says plain
HTTP; basic or bearer-token authentication, as the registry's challenge asks. Every body read
is bounded: documents (manifests, token replies) by MAX_DOCUMENT_BYTES, blobs by their
descriptor's size, and blobs are checked against their descriptor's digest as they stream.
A connection whose response was read to its end is kept for the client's next request to the
same host (as Go's net/http keeps them for containers/image), at most IDLE_CONNECTIONS.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import http.client
import os
import re
import select
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from bb.errors import (
    AuthenticationFailed,
    InvalidArgument,
    ManifestUnknown,
    RegistryError,
    Stopped,
)
from bb.image.config import (
    MEDIA_DOCKER_MANIFEST,
    MEDIA_DOCKER_MANIFEST_LIST,
    MEDIA_OCI_INDEX,
    MEDIA_OCI_MANIFEST,
)
from bb.image.manifest import media_type_of
from bb.image.reference import Reference
from bb.system.limits import MAX_DOCUMENT_BYTES, parse_json_document, read_at_most
from bb.system.parallel import PARALLEL_LAYERS
from bb.transports.auth import credentials_for, parse_creds
from bb.transports.base import TransportOptions
from bb.transports.registries_config import load_registries_config

# where containers/image and docker look for a registry's certificates (certs.d/HOST[:PORT])
CERTS_D = ("/etc/containers/certs.d", "/etc/docker/certs.d")
CHUNK = 8 << 20
# idle connections a client keeps for its next requests: one per layer moving at once
IDLE_CONNECTIONS = PARALLEL_LAYERS
# how much of a request's body is sent at a time (http.client's default is 8 KiB: 64,000 calls
# through the progress counter for 500 MB)
SEND_BLOCK = 1 << 20
REDIRECTS = (301, 302, 303, 307, 308)
# as Go's net/http, which containers/image follows redirects with
MAX_REDIRECTS = 10
# the longest wait before a retry, whatever Retry-After or the doubling --retry-delay say
MAX_WAIT = 60.0
TIMEOUT = 60
# what of a failed request's body an error message shows (the rest is not read)
ERROR_DETAIL = 4096
ACCEPT = (
    f"{MEDIA_OCI_MANIFEST}, {MEDIA_DOCKER_MANIFEST}, "
    f"{MEDIA_OCI_INDEX}, {MEDIA_DOCKER_MANIFEST_LIST}"
)
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


@dataclass
class _Response:
    status: int
    headers: dict[str, str]
    body: bytes


class DigestCheckingReader:
    """A blob from the registry, held to its descriptor: refused once longer than its size, and
    at its end if shorter or of another digest. A connection that breaks off is opened again
    (up to --retry times) with a Range request from where it broke: the registry may answer with
    that range, or with the whole blob, whose start is then skipped."""

    def __init__(self, client: RegistryClient, url: str, digest: str, size: int, what: str):
        self.client = client
        self.url = url
        self.digest = digest
        self.size = size
        self.what = what
        self.response: http.client.HTTPResponse | None = None
        self.connection: http.client.HTTPConnection | None = None
        self._sha256 = hashlib.sha256()
        self._count = 0
        self._resumed = 0

    def open(self) -> None:
        """GET the blob from where reading stands (the start, or where the connection broke)."""
        headers = {"Range": f"bytes={self._count}-"} if self._count else {}
        answer, self.response, self.connection = self.client.request(
            "GET", self.url, headers, stream=True
        )
        if self.response is None:
            raise self.client._fail(f"fetching blob {self.digest}", answer)
        skip = self._count
        if answer.status == 206 and self._count:
            announced = answer.headers.get("content-range", "")
            if not announced.startswith(f"bytes {self._count}-"):
                raise RegistryError(
                    f"{self.what}: asked for bytes from {self._count}, the registry sent "
                    f"{announced[:80]!r}"
                )
            skip = 0
        length = _content_length(self.response)
        if length > self.size - self._count + skip:
            raise RegistryError(
                f"{self.what}: the registry announces {length + self._count - skip} "
                f"bytes, its descriptor gives {self.size}"
            )
        while skip:  # the registry ignored the Range: what was read already is passed over
            skipped = self.response.read(min(skip, CHUNK))
            if not skipped:
                raise RegistryError(f"{self.what}: the registry sent less when asked again")
            skip -= len(skipped)

    def read(self, size: int = -1) -> bytes:
        """Read and hash; at the end, check the size and digest."""
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(CHUNK), b""))
        # one byte past the descriptor's size tells a longer blob from one that ends there
        wanted = min(size, self.size - self._count + 1)
        assert self.response is not None
        try:
            data = self.response.read(wanted) if wanted else b""
            if wanted and not data and self._count < self.size:
                raise http.client.IncompleteRead(b"", self.size - self._count)
        except (OSError, http.client.HTTPException) as failure:
            if not _retryable(failure) or self._resumed >= self.client.retries:
                if isinstance(failure, http.client.IncompleteRead) and not failure.partial:
                    raise RegistryError(
                        f"{self.what}: the registry sent {self._count} of the "
                        f"{self.size} bytes its descriptor gives"
                    ) from None
                raise _read_failure(self.what, failure) from None
            self.close()
            self.client.pause(self._resumed, None, f"{self.what}: {failure}")
            self._resumed += 1
            self.open()
            return self.read(size)
        self._count += len(data)
        if self._count > self.size:
            raise RegistryError(
                f"{self.what}: the registry sent more than the {self.size} bytes "
                "its descriptor gives"
            )
        if data:
            self._sha256.update(data)
        elif size and "sha256:" + self._sha256.hexdigest() != self.digest:
            raise RegistryError(
                f"{self.what}: the registry sent content with digest "
                f"sha256:{self._sha256.hexdigest()}"
            )
        return data

    def close(self) -> None:
        """Close the connection."""
        if self.connection is not None:
            self.connection.close()


class RegistryClient:
    """One repository on one registry, with authentication handled as the registry asks."""

    def __init__(self, reference: Reference, options: TransportOptions):
        self.reference = reference
        self.registry = reference.registry
        self.repository = reference.repository
        config = load_registries_config()
        host = self.registry.rsplit(":", 1)[0].strip("[]")
        self.cert_dir = options.cert_dir or next(
            (
                directory
                for directory in (f"{base}/{self.registry}" for base in CERTS_D)
                if os.path.isdir(directory)
            ),
            None,
        )
        # a local registry is plain HTTP unless TLS is asked for or it has certificates
        self.plain_http = options.tls_verify is False or (
            options.tls_verify is None
            and (
                self.registry in config.insecure
                or (host in ("localhost", "127.0.0.1", "::1") and self.cert_dir is None)
            )
        )
        self._tls: ssl.SSLContext | None = None
        # (scheme, host) -> connections whose last response was read to its end
        self._idle: dict[tuple[str, str], list[http.client.HTTPConnection]] = {}
        # the idle connections and the TLS context are shared by the threads of a push
        self._lock = threading.Lock()
        self.retries = options.retries
        self.retry_delay = options.retry_delay
        self.progress = options.progress
        self.credentials = (
            parse_creds(options.credentials)
            if options.credentials
            else credentials_for(self.registry, options.authfile)
        )
        self._authorization: str | None = None

    # --- HTTP ----------------------------------------------------------------------

    def _endpoint(self) -> str:
        """`scheme://host[:port]` of the registry's API."""
        netloc = "registry-1.docker.io" if self.registry == "docker.io" else self.registry
        return f"{'http' if self.plain_http else 'https'}://{netloc}"

    def _connection(self, netloc: str, scheme: str) -> http.client.HTTPConnection:
        """A new connection (it connects at its first request)."""
        if scheme == "http":
            return http.client.HTTPConnection(netloc, timeout=TIMEOUT, blocksize=SEND_BLOCK)
        with self._lock:
            if self._tls is None:
                self._tls = _tls_context(self.cert_dir)
        return http.client.HTTPSConnection(
            netloc, timeout=TIMEOUT, context=self._tls, blocksize=SEND_BLOCK
        )

    def _idle_connection(self, netloc: str, scheme: str) -> http.client.HTTPConnection | None:
        """A connection kept from an earlier request and still open, if there is one."""
        with self._lock:
            idle = self._idle.get((scheme, netloc), [])
            while idle:
                connection = idle.pop()
                # readable while idle: the server closed it (or sent what it should not)
                if not select.select([connection.sock], [], [], 0)[0]:
                    return connection
                connection.close()
        return None

    def _release(
        self, url: str, connection: http.client.HTTPConnection, response: http.client.HTTPResponse
    ) -> None:
        """Keep the connection a request to `url` went on for the next one, if its response was
        read to the end and the server keeps it open (at most IDLE_CONNECTIONS); else close it."""
        if response.isclosed() and not response.will_close and connection.sock is not None:
            parsed = urllib.parse.urlsplit(url)
            with self._lock:
                if sum(map(len, self._idle.values())) < IDLE_CONNECTIONS:
                    self._idle.setdefault((parsed.scheme, parsed.netloc), []).append(connection)
                    return
        connection.close()

    def close(self) -> None:
        """Close the idle connections."""
        with self._lock:
            for connections in self._idle.values():
                for connection in connections:
                    connection.close()
            self._idle.clear()

    def _send(
        self, method: str, url: str, headers: dict[str, str], body: object
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """One exchange with an absolute `url`, on an idle connection to its host if there is
        one. The registry's Authorization goes to the registry's host only: never to where it
        redirects (a CDN, object storage)."""
        parsed = urllib.parse.urlsplit(url)
        connection = self._idle_connection(parsed.netloc, parsed.scheme)
        reused = connection is not None
        if connection is None:
            connection = self._connection(parsed.netloc, parsed.scheme)
        path = urllib.parse.urlunsplit(("", "", parsed.path or "/", parsed.query, ""))
        all_headers = dict(headers)
        if self._authorization and parsed.netloc == urllib.parse.urlsplit(self._endpoint()).netloc:
            all_headers["Authorization"] = self._authorization
        try:
            connection.request(method, path, body=body, headers=all_headers)  # type: ignore[arg-type]
            return connection, connection.getresponse()
        except (OSError, http.client.HTTPException) as failure:
            connection.close()
            if reused and _retryable(failure):
                raise _Stale(failure) from None
            raise
        except BaseException:
            connection.close()
            raise

    def pause(self, failures: int, retry_after: float | None, why: str) -> None:
        """Wait before trying again: Retry-After if the registry said (at most MAX_WAIT), else
        --retry-delay doubled for each failure before."""
        wait = retry_after if retry_after is not None else self.retry_delay * 2**failures
        wait = min(wait, MAX_WAIT)
        self.progress.message(f"Retrying in {wait:g}s ({failures + 1}/{self.retries}): {why}")
        time.sleep(wait)

    def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        body: object = None,
        stream: bool = False,
    ) -> tuple[_Response, http.client.HTTPResponse | None, http.client.HTTPConnection | None]:
        """Send a request and return the response (its open stream if asked, on success).

        Authenticates when challenged; follows redirects of GET and HEAD (to other hosts too);
        tries again (--retry) after 5xx, 429 and connections refused, reset or broken off."""
        headers = headers or {}
        url = urllib.parse.urljoin(self._endpoint(), url)
        what = f"{method} {urllib.parse.urlsplit(url).path}"
        # a body sent again (after a challenge or a failure) is read again from its start
        start = body.tell() if hasattr(body, "seek") else None  # type: ignore[attr-defined]
        replayable = start is not None or not hasattr(body, "read")
        authenticated = False
        redirects = failures = 0
        while True:
            if start is not None:
                body.seek(start)  # type: ignore[attr-defined]
            try:
                connection, response = self._send(method, url, headers, body)
            except _Stale as stale:
                # the server closed an idle connection as the request went out on it
                if replayable:
                    continue
                raise RegistryError(
                    f"registry {self.registry}: cannot connect: {stale.failure}"
                ) from None
            except (OSError, http.client.HTTPException) as failure:
                if replayable and _retryable(failure) and failures < self.retries:
                    self.pause(failures, None, f"{what}: {failure}")
                    failures += 1
                    continue
                raise RegistryError(
                    f"registry {self.registry}: cannot connect: {failure}"
                ) from None
            status = response.status
            if status == 401 and not authenticated and replayable:
                challenge = response.getheader("WWW-Authenticate", "")
                connection.close()
                self._authenticate(challenge)
                authenticated = True
                continue
            if status == 401:
                connection.close()
                raise self._refused()
            if status in REDIRECTS and method in ("GET", "HEAD"):
                location = response.getheader("Location", "")
                connection.close()
                url = self._redirected(url, location, redirects)
                redirects += 1
                continue
            if (status >= 500 or status == 429) and replayable and failures < self.retries:
                retry_after = _retry_after(response) if status == 429 else None
                connection.close()
                self.pause(failures, retry_after, f"{what}: HTTP {status}")
                failures += 1
                continue
            result = _Response(status, {k.lower(): v for k, v in response.getheaders()}, b"")
            if stream and 200 <= status < 300:
                return result, response, connection
            if method == "HEAD":  # no body: its Content-Length is the blob's, of any size
                response.read()
                self._release(url, connection, response)
                return result, None, None
            try:
                result.body = self._body(response, what)
            except _BrokenOff as failure:
                if not (replayable and failures < self.retries):
                    raise
                self.pause(failures, None, str(failure))
                failures += 1
                continue
            finally:
                self._release(url, connection, response)
            return result, None, None

    def _redirected(self, url: str, location: str, redirects: int) -> str:
        """Where a redirect from `url` leads (bounded, http or https only)."""
        if redirects >= MAX_REDIRECTS:
            raise RegistryError(f"registry {self.registry}: more than {MAX_REDIRECTS} redirects")
        target = urllib.parse.urljoin(url, location.strip())
        parsed = urllib.parse.urlsplit(target)
        if not location.strip() or parsed.scheme not in ("http", "https") or not parsed.netloc:
            shown = "".join(c if c.isprintable() else "?" for c in location[:200])
            raise RegistryError(f"registry {self.registry}: a redirect to {shown!r}")
        return target

    def _body(self, response: http.client.HTTPResponse, what: str) -> bytes:
        """A response's body: a success's whole (at most MAX_DOCUMENT_BYTES), a failure's start."""
        what = f"registry {self.registry}: the response to {what}"
        try:
            if not 200 <= response.status < 300:
                return response.read(ERROR_DETAIL)
            if _content_length(response) > MAX_DOCUMENT_BYTES:
                raise RegistryError(f"{what} is larger than {MAX_DOCUMENT_BYTES} bytes")
            return read_at_most(
                response,
                MAX_DOCUMENT_BYTES,
                what,  # type: ignore[arg-type]
                RegistryError,
            )
        except (OSError, http.client.HTTPException) as failure:
            if _retryable(failure):
                raise _BrokenOff(_read_failure(what, failure)) from None
            raise _read_failure(what, failure) from None

    def _authenticate(self, challenge: str) -> None:
        scheme, _, parameters = challenge.partition(" ")
        if self.credentials is None and scheme.lower() == "basic":
            raise AuthenticationFailed(
                f"registry {self.registry}: authentication required (bb login {self.registry})"
            )
        basic = None
        if self.credentials is not None:
            basic = "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()
        if scheme.lower() == "basic":
            self._authorization = basic
            return
        if scheme.lower() != "bearer":
            raise RegistryError(f"registry {self.registry}: unsupported authentication {scheme!r}")
        fields = dict(_CHALLENGE.findall(parameters))
        query = {"service": fields.get("service", "")}
        query["scope"] = fields.get("scope") or f"repository:{self.repository}:pull,push"
        url = fields.get("realm", "") + "?" + urllib.parse.urlencode(query)
        self._authorization = None
        response, _, _ = self._token_request(url, basic)
        document = parse_json_document(
            response.body, f"token server of {self.registry}: the response", AuthenticationFailed
        )
        token = document.get("token") or document.get("access_token")
        if not isinstance(token, str) or not token.isprintable():
            raise AuthenticationFailed(f"registry {self.registry}: the token server sent no token")
        self._authorization = "Bearer " + token

    def _token_request(self, url: str, basic: str | None) -> tuple[_Response, None, None]:
        parsed = urllib.parse.urlsplit(url)
        connection = self._connection(parsed.netloc, parsed.scheme)
        try:
            connection.request(
                "GET",
                urllib.parse.urlunsplit(("", "", parsed.path, parsed.query, "")),
                headers={"Authorization": basic} if basic else {},
            )
            response = connection.getresponse()
            if response.status == 401:
                raise self._refused()
            if response.status != 200:
                raise RegistryError(f"token server of {self.registry}: HTTP {response.status}")
            body = read_at_most(
                response,
                MAX_DOCUMENT_BYTES,  # type: ignore[arg-type]
                f"token server of {self.registry}: the response",
                RegistryError,
            )
        except (OSError, http.client.HTTPException) as failure:
            raise RegistryError(f"token server of {self.registry}: {failure}") from None
        finally:
            connection.close()
        return _Response(response.status, {}, body), None, None

    def _refused(self) -> AuthenticationFailed:
        return AuthenticationFailed(
            f"registry {self.registry}: authentication failed (check the user name and password)"
        )

    def _url(self, path: str) -> str:
        return f"/v2/{self.repository}/{path}"

    def _fail(self, what: str, response: _Response) -> RegistryError:
        # the registry's words, on the one line of the message, and no terminal controls
        detail = " ".join(response.body[:300].decode(errors="replace").split())
        detail = "".join(c if c.isprintable() else "?" for c in detail)
        return RegistryError(f"registry {self.registry}: {what}: HTTP {response.status} {detail}")

    # --- the API ---------------------------------------------------------------------

    def check(self) -> None:
        """GET /v2/: the registry answers and accepts our credentials."""
        response, _, _ = self.request("GET", "/v2/")
        if response.status != 200:
            raise self._fail("checking access", response)

    def manifest(self, reference: str, size: int | None = None) -> tuple[bytes, str]:
        """A manifest (or list) by tag or digest (checked, and its `size`), with its media type."""
        response, _, _ = self.request(
            "GET", self._url(f"manifests/{reference}"), {"Accept": ACCEPT}
        )
        if response.status == 404:
            raise ManifestUnknown(
                f"registry {self.registry}: {self.repository}:{reference} not found"
            )
        if response.status != 200:
            raise self._fail(f"reading manifest {reference}", response)
        what = f"registry {self.registry}: manifest {self.repository}@{reference}"
        if (
            reference.startswith("sha256:")
            and "sha256:" + hashlib.sha256(response.body).hexdigest() != reference
        ):
            raise RegistryError(
                f"{what}: the registry sent content with digest "
                f"sha256:{hashlib.sha256(response.body).hexdigest()}"
            )
        if size is not None and len(response.body) != size:
            raise RegistryError(
                f"{what}: the registry sent {len(response.body)} bytes, its descriptor gives {size}"
            )
        return response.body, media_type_of(response.body, response.headers.get("content-type"))

    @contextmanager
    def blob(self, digest: str, size: int) -> Iterator[BinaryIO]:
        """A blob's content as a stream, held to its digest and size as it is read."""
        what = f"registry {self.registry}: blob {self.repository}@{digest}"
        reader = DigestCheckingReader(self, self._url(f"blobs/{digest}"), digest, size, what)
        try:
            reader.open()
            yield reader  # type: ignore[misc]
        finally:
            reader.close()

    def has_blob(self, digest: str) -> bool:
        """Whether the repository already holds the blob."""
        response, _, _ = self.request("HEAD", self._url(f"blobs/{digest}"))
        return response.status == 200

    def mount_blob(self, digest: str, source_repository: str) -> bool:
        """Ask the registry to link a blob from another repository (no upload); whether it did."""
        query = urllib.parse.urlencode({"mount": digest, "from": source_repository})
        response, _, _ = self.request(
            "POST", self._url(f"blobs/uploads/?{query}"), {"Content-Length": "0"}, b""
        )
        return response.status == 201

    def upload_blob(
        self,
        path: str,
        digest: str,
        size: int,
        kind: str = "blob",
        stop: threading.Event | None = None,
    ) -> None:
        """Upload a file as a blob (a layer, or the config `kind`): one PUT when small, else as
        docker and containers/image do, the whole file in one PATCH, then a PUT. Gives up once
        `stop` is set (another layer's upload failed)."""
        response, _, _ = self.request(
            "POST", self._url("blobs/uploads/"), {"Content-Length": "0"}, b""
        )
        if response.status != 202 or "location" not in response.headers:
            raise self._fail("starting an upload", response)
        location = response.headers["location"]
        with (
            open(path, "rb") as raw,
            self.progress.reading(_Stoppable(raw, stop), kind, digest, size) as blob,  # type: ignore[arg-type]
        ):
            body: object = blob
            length = size
            if size > CHUNK:
                response, _, _ = self.request(
                    "PATCH",
                    location,
                    {"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                    blob,
                )
                if response.status != 202:
                    raise self._fail(f"uploading {digest}", response)
                location = response.headers.get("location", location)
                body, length = b"", 0
            separator = "&" if "?" in location else "?"
            response, _, _ = self.request(
                "PUT",
                f"{location}{separator}digest={urllib.parse.quote(digest)}",
                {"Content-Type": "application/octet-stream", "Content-Length": str(length)},
                body,
            )
        if response.status != 201:
            raise self._fail(f"finishing the upload of {digest}", response)

    def put_manifest(self, reference: str, manifest: bytes, media_type: str) -> None:
        """Store a manifest under a tag (or digest)."""
        response, _, _ = self.request(
            "PUT",
            self._url(f"manifests/{reference}"),
            {"Content-Type": media_type, "Content-Length": str(len(manifest))},
            manifest,
        )
        if response.status != 201:
            raise self._fail(f"storing manifest {reference}", response)


def _tls_context(cert_dir: str | None) -> ssl.SSLContext:
    """The system's CAs, and a certs.d directory's as containers-certs.d(5) lays it out: every
    *.crt a CA, every *.cert with its *.key a client certificate."""
    context = ssl.create_default_context()
    if cert_dir is None:
        return context
    try:
        names = sorted(os.listdir(cert_dir))
    except OSError as failure:
        raise InvalidArgument(f"{cert_dir}: {failure.strerror}") from None
    for name in names:
        path = os.path.join(cert_dir, name)
        try:
            if name.endswith(".crt"):
                context.load_verify_locations(cafile=path)
            elif name.endswith(".cert"):
                key = path.removesuffix(".cert") + ".key"
                if not os.path.exists(key):
                    raise InvalidArgument(f"{path}: no {os.path.basename(key)} beside it")
                context.load_cert_chain(path, key)
        except (OSError, ssl.SSLError) as failure:
            detail = getattr(failure, "strerror", None) or failure
            raise InvalidArgument(f"{path}: not a usable certificate: {detail}") from None
    return context


class _Stoppable:
    """A file read as a request's body that fails once `stop` is set; read again from its start
    when the request is sent again."""

    def __init__(self, stream: BinaryIO, stop: threading.Event | None):
        self.stream = stream
        self.stop = stop

    def read(self, size: int = -1) -> bytes:
        if self.stop is not None and self.stop.is_set():
            raise Stopped("stopped")
        return self.stream.read(size)

    def tell(self) -> int:
        return self.stream.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self.stream.seek(offset, whence)


class _BrokenOff(RegistryError):
    """A response whose body the connection broke off: the request may be sent again."""


class _Stale(Exception):
    """A request that failed on a connection kept idle: the server had closed it."""

    def __init__(self, failure: OSError | http.client.HTTPException):
        super().__init__(str(failure))
        self.failure = failure


def _retryable(failure: BaseException) -> bool:
    """Whether a failure is one that trying again may cure (as containers/common's retry
    judges: refused, reset, timed out, broken off), not one of TLS trust or name lookup."""
    if isinstance(failure, ssl.SSLError):
        return isinstance(failure, (ssl.SSLEOFError, ssl.SSLZeroReturnError))
    return isinstance(failure, (ConnectionError, TimeoutError, http.client.HTTPException))


def _retry_after(response: http.client.HTTPResponse) -> float | None:
    """A 429's Retry-After in seconds (a number or an HTTP date), None if absent or unreadable."""
    value = (response.getheader("Retry-After") or "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _read_failure(what: str, failure: Exception) -> RegistryError:
    """The error for a body the connection broke off (reset, closed early, timed out)."""
    return RegistryError(f"{what}: reading failed: {failure or type(failure).__name__}")


def _content_length(response: http.client.HTTPResponse) -> int:
    """The Content-Length a response announces (-1 if none)."""
    length = response.getheader("Content-Length", "")
    return int(length) if length.strip().isdigit() else -1
