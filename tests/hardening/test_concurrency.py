"""Many bb processes on one store at once: all succeed or fail cleanly; the store stays exact."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from bb.system.mounts import mounts_under

BUILDS = 20


@pytest.fixture
def driver() -> str:
    """Concurrency is about the store's locking, not the driver: overlay only."""
    return "overlay"


def test_twenty_concurrent_builds_with_images_and_rmi(bb, tmp_path):
    processes = []
    for number in range(BUILDS):
        context = tmp_path / f"ctx{number}"
        context.mkdir()
        (context / "data").write_text(f"build {number}\n")
        (context / "Dockerfile").write_text(
            f"FROM busybox\nCOPY data /data\nRUN echo {number} > /number && cat /data\n"
            f"LABEL build={number}\n"
        )
        processes.append(
            subprocess.Popen(
                [bb.executable, "build", "-q", "-t", f"concurrent:{number}", str(context)],
                env=bb.env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    readers = [
        subprocess.Popen(
            [bb.executable, verb, *args],
            env=bb.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for verb, args in [
            ("images", []),
            ("rmi", ["--prune"]),
            ("containers", []),
            ("images", ["-q"]),
        ]
        * 3
    ]
    results = [(process.wait(timeout=600), *process.communicate()) for process in processes]
    for reader in readers:
        assert reader.wait(timeout=600) == 0, reader.communicate()[1]
    failures = [error for status, _, error in results if status != 0]
    assert not failures, failures[:3]
    built = {out.split()[-1] for _, out, _ in results}
    listed = set(bb("images", "-q", "--notruncate").split())
    assert built <= listed
    assert len(listed) == BUILDS + 1  # every build, plus busybox: nothing half-made, nothing extra
    for number in (0, BUILDS - 1):
        assert bb.run_in(f"concurrent:{number}", "cat /number") == str(number)
    assert bb("containers", "-q") == ""
    assert not [m for m in mounts_under(str(bb.root)) if "/merged" in m]
    assert not list(Path(bb.root, "layers").glob("*.incomplete"))


def _open_store(bb):  # type: ignore[no-untyped-def]
    """The test store, opened in this process the way a bb command opens it."""
    from bb.store.config import load_store_options
    from bb.store.store import Store

    return Store.open(
        load_store_options(graph_root=str(bb.root), run_root=str(bb.runroot), driver=bb.driver)
    )


def test_prune_spares_an_image_named_after_it_was_listed(bb, monkeypatch):
    """`bb build` names its image just after committing it, so a prune that listed the image while
    it was nameless must look at it again, under the lock, before removing it."""
    from bb.store.removal import prune_images

    image_id = bb("commit", "--rm", bb("from", "busybox"))
    store = _open_store(bb)
    listed_while_nameless = store.images.list()
    bb("tag", image_id, "named-meanwhile")
    monkeypatch.setattr(store.images, "list", lambda: listed_while_nameless)
    assert image_id not in [removal.image_id for removal in prune_images(store)]
    assert bb("images", "-q", "--notruncate", "named-meanwhile") == image_id


def test_prune_waits_for_running_builds(bb, tmp_path):
    """A running build's images are nameless until it names them: `rmi --prune` waits for it."""
    nameless = bb("commit", "--rm", bb("from", "busybox"))
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo one > /one && sleep 3\n")
    build = subprocess.Popen(
        [bb.executable, "build", "-q", "-t", "slow", str(tmp_path)],
        env=bb.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not bb("containers", "-q") and time.monotonic() < deadline:
        time.sleep(0.1)  # until the build has its working container; it then sleeps 3 s
    prune = subprocess.Popen(
        [bb.executable, "rmi", "--prune"], env=bb.env(), stdout=subprocess.PIPE, text=True
    )
    time.sleep(1)  # a prune that does not wait is done by now
    assert prune.poll() is None and build.poll() is None
    assert build.wait(timeout=120) == 0, build.communicate()[1]
    assert prune.wait(timeout=60) == 0
    pruned = prune.communicate()[0].split()
    assert nameless in pruned
    assert bb("images", "-q", "--notruncate", "slow") not in pruned
    assert bb.run_in("slow", "cat /one") == "one"
