"""Store location, driver selection and configuration."""

import json
import subprocess


def info(bb, *flags):
    return json.loads(bb(*flags, "info"))["store"]


def test_driver_recorded_and_switch_refused(empty_bb):
    bb = empty_bb
    bb("from", "scratch")
    assert info(bb)["GraphDriverName"] == bb.driver
    other = "vfs" if bb.driver == "overlay" else "overlay"
    error = bb.fails("--storage-driver", other, "containers")
    assert f'holds layers of storage driver "{bb.driver}"' in error


def test_config_file_and_flags(empty_bb, tmp_path):
    bb = empty_bb
    root = tmp_path / "from-config"
    config = tmp_path / "storage.toml"
    config.write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{root}"\nrunroot = "{tmp_path / "run-config"}"\n'
        '[storage.options]\n"dm.basesize" = "20G"\n'
    )
    env = bb.env()
    for name in ("BB_ROOT", "BB_RUNROOT", "BB_STORAGE_DRIVER"):
        env.pop(name)
    env["BB_CONFIG"] = str(config)

    def run(*args):
        return subprocess.run([bb.executable, *args], env=env, capture_output=True, text=True)

    result = run("info")
    assert result.returncode == 0, result.stderr
    store = json.loads(result.stdout)["store"]
    assert store["GraphRoot"] == str(root) and store["GraphDriverName"] == "vfs"
    # a flag beats the file
    flagged = json.loads(run("--root", str(tmp_path / "flagged"), "info").stdout)["store"]
    assert flagged["GraphRoot"] == str(tmp_path / "flagged")
    bad = run("--storage-opt", "nonsense", "info")
    assert bad.returncode == 125 and "--storage-opt" in bad.stderr
    unknown = run("--storage-opt", "vfs.bogus=1", "info")
    assert unknown.returncode == 125 and 'unknown option "vfs.bogus"' in unknown.stderr
    config.write_text("[storage\n")
    broken = run("info")
    assert broken.returncode == 125 and str(config) in broken.stderr
    missing = subprocess.run(
        [bb.executable, "--config", str(tmp_path / "none.toml"), "info"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 125 and "none.toml" in missing.stderr


def test_unknown_driver(empty_bb):
    assert 'unknown storage driver "zfs"' in empty_bb.fails("--storage-driver", "zfs", "images")


def test_store_permissions(empty_bb):
    bb = empty_bb
    bb("from", "scratch")
    for path in (bb.root, bb.root / "layers", bb.root / "containers", bb.root / "blobs"):
        assert path.stat().st_mode & 0o777 == 0o700
