"""Reading /etc/bb/storage.toml and the flags that override it."""

import pytest

from bb.errors import InvalidArgument
from bb.store.config import load_store_options


def test_defaults_without_file(tmp_path, monkeypatch):
    monkeypatch.setattr("bb.store.config.DEFAULT_CONFIG_PATH", str(tmp_path / "absent.toml"))
    options = load_store_options()
    assert (options.graph_root, options.run_root, options.driver) == (
        "/var/lib/bb",
        "/run/bb",
        None,
    )


def test_file_tables_and_flags(tmp_path):
    config = tmp_path / "storage.toml"
    config.write_text(
        '[storage]\ndriver = "devicemapper"\ngraphroot = "/g"\nrunroot = "/r"\n'
        '[storage.options]\n"overlay.mountopt" = "nodev"\n'
        '[storage.options.thinpool]\nbasesize = "20G"\nfs = "xfs"\n'
    )
    options = load_store_options(str(config), storage_opts=["dm.basesize=30G"])
    assert options.driver == "devicemapper" and options.graph_root == "/g"
    assert options.options_for("devicemapper") == {"dm.basesize": "30G", "dm.fs": "xfs"}
    assert options.options_for("overlay") == {"overlay.mountopt": "nodev", "dm.basesize": "30G"}
    flagged = load_store_options(str(config), graph_root="/other", driver="vfs")
    assert flagged.graph_root == "/other" and flagged.driver == "vfs"


def test_bad_input(tmp_path):
    with pytest.raises(InvalidArgument, match="--storage-opt"):
        load_store_options(str(tmp_path / "x.toml") if False else None, storage_opts=["novalue"])
    with pytest.raises(InvalidArgument, match="no such file"):
        load_store_options(str(tmp_path / "missing.toml"))
    broken = tmp_path / "broken.toml"
    broken.write_text("[storage\n")
    with pytest.raises(InvalidArgument, match="broken.toml"):
        load_store_options(str(broken))
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[storage.options.zfs]\nx = 1\n")
    with pytest.raises(InvalidArgument, match="storage.options.zfs"):
        load_store_options(str(unknown))


def test_ctr_img_reads_isula_builds_files_when_present(tmp_path, monkeypatch):
    """Under ctr-img with no --config: /etc/isula-build/configuration.toml (here, its stand-in)."""
    configuration = tmp_path / "isula-build" / "configuration.toml"
    monkeypatch.setattr("bb.store.config.ISULA_BUILD_CONFIGURATION", str(configuration))
    monkeypatch.setattr("bb.store.config.DEFAULT_CONFIG_PATH", str(tmp_path / "absent.toml"))
    assert load_store_options(isula_build=True).graph_root == "/var/lib/bb", "no file: bb's"
    configuration.parent.mkdir()
    configuration.write_text('group = "isula"\nexperimental = true\nloglevel = "debug"\n')
    (configuration.parent / "storage.toml").write_text(
        '[storage]\ndriver = "vfs"\n[storage.options.thinpool]\nbasesize = "20G"\n'
    )
    options = load_store_options(isula_build=True)
    assert (options.graph_root, options.run_root) == (
        "/var/lib/isula-build",
        "/var/run/isula-build",
    )
    assert options.driver == "vfs" and options.options_for("devicemapper") == {"dm.basesize": "20G"}
    assert options.registries_config == str(configuration.parent / "registries.toml")
    assert options.debug
    assert load_store_options(isula_build=False).graph_root == "/var/lib/bb"
    assert load_store_options(isula_build=True, graph_root="/flag").graph_root == "/flag"
    configuration.write_text('runtime = "/usr/bin/kata-runtime"\n')
    with pytest.raises(InvalidArgument, match="runtime"):
        load_store_options(isula_build=True)


def test_isula_build_thinpool_keys_map_to_dm_options(tmp_path):
    config = tmp_path / "storage.toml"
    config.write_text(
        '[storage]\ndriver = "devicemapper"\n[storage.options.thinpool]\n'
        'directlvm_device = "/dev/vdb"\ndirectlvm_device_force = "True"\n'
        'autoextend_percent = "20"\nautoextend_threshold = "80"\nlog_level = "7"\n'
        'xfs_nospace_max_retries = "0"\nuse_deferred_deletion = "True"\n'
    )
    assert load_store_options(str(config)).options_for("devicemapper") == {
        "dm.directlvm_device": "/dev/vdb",
        "dm.directlvm_device_force": "True",
        "dm.thinp_autoextend_percent": "20",
        "dm.thinp_autoextend_threshold": "80",
        "dm.libdm_log_level": "7",
        "dm.xfs_nospace_max_retries": "0",
        "dm.use_deferred_deletion": "True",
    }
