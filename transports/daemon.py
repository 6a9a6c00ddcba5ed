"""`docker-daemon:NAME:TAG`: load into (or save from) the Docker daemon through its API socket."""

from __future__ import annotations

import http.client
import json
import os
import socket
import tempfile
import urllib.parse

from bb.errors import RegistryError
from bb.image.reference import DOCKER_HUB, parse_reference
from bb.store.images import ImageRecord
from bb.store.store import Store
from bb.transports.base import StoredImage, Transport, TransportOptions, unpacked_archive
from bb.transports.docker_archive import load_docker_archive, write_docker_archive

API_TIMEOUT = 300


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over the daemon's unix socket."""

    def __init__(self, path: str):
        super().__init__("localhost", timeout=API_TIMEOUT)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(API_TIMEOUT)
        self.sock.connect(self.socket_path)


def daemon_socket() -> str:
    """The daemon's socket: $DOCKER_HOST (unix://...) or /var/run/docker.sock."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        raise RegistryError(f"DOCKER_HOST={host}: only unix:// sockets are supported")
    return host[len("unix://") :]


def _call(
    method: str, path: str, body: object = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    socket_path = daemon_socket()
    connection = _UnixConnection(socket_path)
    try:
        connection.request(method, path, body=body, headers=headers or {})  # type: ignore[arg-type]
        response = connection.getresponse()
        return response.status, response.read()
    except OSError as failure:
        raise RegistryError(
            f"docker daemon at {socket_path}: {failure.strerror or failure}"
        ) from None
    finally:
        connection.close()


class DockerDaemonTransport(Transport):
    """A Docker daemon's image store."""

    def export(
        self, store: Store, images: list[StoredImage], location: str, options: TransportOptions
    ) -> None:
        """`docker load` the images (named by the location) over the API."""
        for image in images:
            # the daemon's names are Docker's: no registry means Docker Hub
            image.names = (
                [str(parse_reference(location, default_registry=DOCKER_HUB))]
                if location
                else image.names
            )
        with tempfile.TemporaryFile(dir=store.temp_dir) as archive:
            write_docker_archive(store, images, archive, short_local=True)
            size = archive.tell()
            archive.seek(0)
            status, body = _call(
                "POST",
                "/images/load?quiet=1",
                archive,
                {"Content-Type": "application/x-tar", "Content-Length": str(size)},
            )
        if status != 200:
            raise RegistryError(
                f"docker daemon refused the image: HTTP {status} "
                f"{body[:300].decode(errors='replace')}"
            )
        for line in body.splitlines():
            with_error = json.loads(line) if line.strip().startswith(b"{") else {}
            if with_error.get("error"):
                raise RegistryError(f"docker daemon: {with_error['error']}")

    def import_images(
        self, store: Store, location: str, options: TransportOptions
    ) -> list[ImageRecord]:
        """`docker save` the image over the API and store it."""
        name = location
        status, body = _call("GET", f"/images/{urllib.parse.quote(name, safe='/:@')}/get")
        if status != 200:
            raise RegistryError(f"docker daemon has no image {name}: HTTP {status}")
        with tempfile.NamedTemporaryFile(
            dir=store.temp_dir, prefix=f"{os.getpid()}-daemon-"
        ) as archive:
            archive.write(body)
            archive.flush()
            with unpacked_archive(store, archive.name) as root:
                return load_docker_archive(
                    store, root, str(parse_reference(name, default_registry=DOCKER_HUB))
                )
