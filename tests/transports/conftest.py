"""Real peers for the transport tests: registries and a Docker daemon, started and stopped here."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from testbed import start_dockerd, start_registry, stop_dockerd


@pytest.fixture
def driver() -> str:
    """Transports don't depend on the storage driver: run these on overlay only."""
    return "overlay"


@dataclass
class Registry:
    """A docker-registry on 127.0.0.1."""

    address: str
    storage: Path
    log: Path
    user: str | None = None
    password: str | None = None
    certificates: Path | None = None

    def uploads(self) -> int:
        """How many blob uploads the registry has completed (from its access log)."""
        return sum(
            1
            for line in self.log.read_text().splitlines()
            if '"PUT /v2/' in line and "/blobs/uploads/" in line
        )


def _start_registry(
    base: Path, htpasswd: Path | None, tls: Path | None = None
) -> tuple[subprocess.Popen, Registry]:
    process, address = start_registry(base, htpasswd, tls)
    return process, Registry(address, base / "data", base / "registry.log")


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A plain (no TLS, no auth) registry."""
    process, peer = _start_registry(tmp_path_factory.mktemp("registry"), None)
    yield peer
    process.terminate()
    process.wait()


@pytest.fixture(scope="session")
def mirror_registry(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A second plain registry (a mirror of the first, in registries.toml tests)."""
    process, peer = _start_registry(tmp_path_factory.mktemp("mirror-registry"), None)
    yield peer
    process.terminate()
    process.wait()


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A registry that wants a user name and password (htpasswd basic auth)."""
    base = tmp_path_factory.mktemp("auth-registry")
    htpasswd = base / "htpasswd"
    subprocess.run(
        ["htpasswd", "-Bbc", str(htpasswd), "tester", "s3cret"], check=True, capture_output=True
    )
    process, peer = _start_registry(base, htpasswd)
    peer.user, peer.password = "tester", "s3cret"
    yield peer
    process.terminate()
    process.wait()


def make_certificates(directory: Path) -> None:
    """A CA (ca.crt), a server pair for 127.0.0.1 signed by it (server.crt/.key) and a client
    pair signed by it (client.cert/.key, as certs.d names them)."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)

    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=bb test CA",
        "-keyout", "ca.key", "-out", "ca.crt",
    )  # fmt: skip
    for name, extension in (
        ("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        (directory / f"{name}.ext").write_text(extension + "\n")
        openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.csr",
        )  # fmt: skip
        openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt",
        )  # fmt: skip
    (directory / "client.crt").rename(directory / "client.cert")


@pytest.fixture(scope="session")
def tls_registry(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A registry on HTTPS that wants a client certificate and a user name and password; its
    certificates are in `peer.certificates` (ca.crt, client.cert, client.key, ...)."""
    base = tmp_path_factory.mktemp("tls-registry")
    certificates = base / "certificates"
    certificates.mkdir()
    make_certificates(certificates)
    htpasswd = base / "htpasswd"
    subprocess.run(
        ["htpasswd", "-Bbc", str(htpasswd), "tester", "s3cret"], check=True, capture_output=True
    )
    process, peer = _start_registry(base, htpasswd, certificates)
    peer.user, peer.password = "tester", "s3cret"
    peer.certificates = certificates
    yield peer
    process.terminate()
    process.wait()


@dataclass
class Daemon:
    """A private dockerd."""

    host: str

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["docker", "-H", self.host, *args], capture_output=True, text=True)
        if check and result.returncode:
            raise AssertionError(f"docker {' '.join(args)}: {result.stderr}")
        return result


@pytest.fixture(scope="session")
def dockerd(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """dockerd with its own data root and socket, no iptables and no bridge."""
    base = tmp_path_factory.mktemp("dockerd")
    process, host = start_dockerd(base)
    yield Daemon(host)
    stop_dockerd(process, base)
