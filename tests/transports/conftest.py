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

    def uploads(self) -> int:
        """How many blob uploads the registry has completed (from its access log)."""
        return sum(
            1
            for line in self.log.read_text().splitlines()
            if '"PUT /v2/' in line and "/blobs/uploads/" in line
        )


def _start_registry(base: Path, htpasswd: Path | None) -> tuple[subprocess.Popen, Registry]:
    process, address = start_registry(base, htpasswd)
    return process, Registry(address, base / "data", base / "registry.log")


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A plain (no TLS, no auth) registry."""
    process, peer = _start_registry(tmp_path_factory.mktemp("registry"), None)
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
