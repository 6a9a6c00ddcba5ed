"""Fixtures shared by every test: an isolated store per test, a busybox base image, the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

from testbed import BUSYBOX_EXAMPLE

# Fuzz tests are bounded in the suite; scripts/fuzz.sh runs them long (--hypothesis-profile=long).
settings.register_profile("default", max_examples=300, deadline=None)
settings.register_profile("long", max_examples=50_000, deadline=None)
settings.load_profile("default")

BB_EXECUTABLE = shutil.which("bb", path=os.path.dirname(sys.executable)) or shutil.which("bb")
DRIVERS = ["overlay", "vfs"]


def mounts_below(path: Path) -> list[str]:
    """Mount points at or below `path`."""
    prefix = str(path)
    with open("/proc/self/mountinfo", encoding="utf-8") as table:
        points = [line.split()[4] for line in table]
    return [p for p in points if p == prefix or p.startswith(prefix + "/")]


def unmount_below(path: Path) -> None:
    """Lazily unmount everything at or below `path` (deepest first)."""
    for point in sorted(mounts_below(path), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False)


@dataclass
class BB:
    """Runs the real `bb` command against one isolated store."""

    root: Path
    runroot: Path
    driver: str
    cwd: Path
    executable: str = BB_EXECUTABLE or "bb"

    def env(self) -> dict[str, str]:
        """The environment a bb process of this store gets."""
        env = dict(os.environ)
        env.update(
            BB_ROOT=str(self.root),
            BB_RUNROOT=str(self.runroot),
            BB_STORAGE_DRIVER=self.driver,
            BB_CONFIG=str(self.root.parent / "no-config.toml"),
        )
        env.pop("BB_DEBUG", None)
        return env

    def run(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run `bb args...`; with check, fail the test on a non-zero exit (showing stderr)."""
        result = subprocess.run(
            [self.executable, *args],
            env=self.env(),
            cwd=self.cwd,
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"bb {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def __call__(self, *args: str, **kwargs) -> str:  # type: ignore[no-untyped-def]
        """Run bb and return its stdout, stripped; fail the test on error."""
        return self.run(*args, **kwargs).stdout.strip()

    def run_in(self, image: str, script: str) -> str:
        """Run a shell script in a fresh container of `image`; return its output."""
        ctr = self("from", image)
        try:
            return self("run", ctr, "--", "sh", "-c", script)
        finally:
            self("rm", ctr)

    def fails(self, *args: str, code: int | None = 125) -> str:
        """Run bb expecting failure (with `code` unless None); return stderr."""
        result = self.run(*args, check=False)
        assert result.returncode != 0, f"bb {' '.join(args)} should have failed:\n{result.stdout}"
        if code is not None:
            assert result.returncode == code, result.stderr
        return result.stderr


def _new_bb(base: Path, driver: str) -> BB:
    (base / "cwd").mkdir(parents=True, exist_ok=True)
    (base / "no-config.toml").write_text("")
    return BB(root=base / "root", runroot=base / "run", driver=driver, cwd=base / "cwd")


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's HOME, store or config."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("BB_ROOT", "BB_RUNROOT", "BB_STORAGE_DRIVER", "BB_CONFIG", "BB_DEBUG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def busybox_stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Per driver, a store holding localhost/busybox:latest built by the example script (once)."""
    stores = {}
    for driver in DRIVERS:
        base = tmp_path_factory.mktemp(f"busybox-{driver}")
        bb = _new_bb(base, driver)
        result = subprocess.run(
            ["sh", str(BUSYBOX_EXAMPLE)], env=bb.env(), cwd=bb.cwd, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        stores[driver] = base
    return stores


def _store_fixture(tmp_path: Path, driver: str, template: Path | None) -> BB:
    base = tmp_path / "bb"
    if template is not None:
        # cp -a keeps what layers hold: xattrs, device nodes, hard links
        subprocess.run(["cp", "-a", str(template), str(base)], check=True)
    bb = _new_bb(base, driver)
    return bb


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest) -> str:
    """Each storage driver in turn."""
    return request.param


@pytest.fixture
def bb(tmp_path: Path, driver: str, busybox_stores: dict[str, Path]):  # type: ignore[no-untyped-def]
    """The bb CLI on a fresh store with localhost/busybox:latest; checks nothing stays mounted."""
    cli = _store_fixture(tmp_path, driver, busybox_stores[driver])
    yield cli
    leaked = mounts_below(cli.root.parent)
    unmount_below(cli.root.parent)
    assert not leaked, f"bb left mounts behind: {leaked}"


@pytest.fixture
def empty_bb(tmp_path: Path, driver: str):  # type: ignore[no-untyped-def]
    """The bb CLI on a fresh, empty store."""
    cli = _store_fixture(tmp_path, driver, None)
    yield cli
    leaked = mounts_below(cli.root.parent)
    unmount_below(cli.root.parent)
    assert not leaked, f"bb left mounts behind: {leaked}"


@pytest.fixture
def empty_store_factory(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Make fresh empty stores on any driver within one test: factory(name, driver) -> BB."""
    made: list[BB] = []

    def make(name: str, driver: str) -> BB:
        cli = _new_bb(tmp_path / name, driver)
        made.append(cli)
        return cli

    yield make
    for cli in made:
        leaked = mounts_below(cli.root.parent)
        unmount_below(cli.root.parent)
        assert not leaked, f"bb left mounts behind: {leaked}"


@dataclass
class IsulaBuildAlias:
    """`isula-build` on PATH, as an isula-build user's scripts call it: a script execing bb."""

    bb: BB
    directory: Path

    def env(self) -> dict[str, str]:
        """The bb store's environment, with the alias first on PATH."""
        env = self.bb.env()
        env["PATH"] = f"{self.directory}:{os.environ['PATH']}"
        return env

    def __call__(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run `isula-build args...` (not checked: tests look at the exit status)."""
        return subprocess.run(
            ["isula-build", *args],
            env=self.env(),
            cwd=self.bb.cwd,
            capture_output=True,
            text=True,
            input=input,
            timeout=300,
        )


@pytest.fixture
def isula_build(bb, tmp_path: Path) -> IsulaBuildAlias:  # type: ignore[no-untyped-def]
    """The `isula-build` alias of the `bb` fixture's store."""
    directory = tmp_path / "alias"
    directory.mkdir()
    alias = directory / "isula-build"
    alias.write_text(f'#!/bin/sh\nexec {bb.executable} "$@"\n')
    alias.chmod(0o755)
    return IsulaBuildAlias(bb, directory)


def device_mapper_available() -> bool:
    """Whether this kernel can run the devicemapper driver (true inside scripts/vm/run-in-vm)."""
    try:
        import bb.drivers  # noqa: F401
        from bb.drivers.base import driver_class

        driver_class("devicemapper").check_supported()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def thin_pool_factory(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Make thin pools with dmsetup, as an administrator would for dm.thinpooldev:
    factory(name) -> name."""
    made: list[tuple[str, list[str]]] = []

    def make(name: str, data_size: str = "6G", metadata_size: str = "128M") -> str:
        directory = tmp_path_factory.mktemp(f"pool-{name}")
        loops = []
        for file_name, size in (("metadata", metadata_size), ("data", data_size)):
            path = directory / file_name
            subprocess.run(["truncate", "-s", size, str(path)], check=True)
            loops.append(
                subprocess.run(
                    ["losetup", "-f", "--show", str(path)],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout.strip()
            )
        sectors = int(
            subprocess.run(
                ["blockdev", "--getsz", loops[1]], check=True, capture_output=True, text=True
            ).stdout
        )
        table = f"0 {sectors} thin-pool {loops[0]} {loops[1]} 128 32768 1 skip_block_zeroing"
        subprocess.run(
            ["dmsetup", "create", name, "--table", table],
            check=True,
            env={**os.environ, "DM_DISABLE_UDEV": "1"},
        )
        made.append((name, loops))
        return name

    yield make
    for name, loops in made:
        subprocess.run(["dmsetup", "remove", name], check=False, capture_output=True)
        for loop in loops:
            subprocess.run(["losetup", "-d", loop], check=False)
