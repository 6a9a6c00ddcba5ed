"""Storage configuration: `/etc/bb/storage.toml` (containers-storage form), overridden by flags.

isula-build's files are read instead with `--config DIR/configuration.toml`, or under
`bb ctr-img` when `/etc/isula-build/configuration.toml` exists: its data_root and run_root
beat the storage.toml beside it, and flags beat both, as isula-builder's do."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from bb.errors import InvalidArgument

DEFAULT_CONFIG_PATH = "/etc/bb/storage.toml"
DEFAULT_GRAPH_ROOT = "/var/lib/bb"
DEFAULT_RUN_ROOT = "/run/bb"

# containers-storage spells driver options as tables ([storage.options.thinpool]
# basesize = "20G"); bb's own spelling is the prefixed key ("dm.basesize").
OPTION_TABLE_PREFIXES = {
    "thinpool": "dm.",
    "devicemapper": "dm.",
    "overlay": "overlay.",
    "vfs": "vfs.",
}
# [storage.options.thinpool] keys whose dm.* option has another name (as containers-storage maps)
THINPOOL_KEY_OPTIONS = {
    "autoextend_percent": "dm.thinp_autoextend_percent",
    "autoextend_threshold": "dm.thinp_autoextend_threshold",
    "log_level": "dm.libdm_log_level",
}
DRIVER_OPTION_PREFIXES = {"devicemapper": "dm.", "overlay": "overlay.", "vfs": "vfs."}

ISULA_BUILD_CONFIGURATION = "/etc/isula-build/configuration.toml"
ISULA_BUILD_DATA_ROOT = "/var/lib/isula-build"
ISULA_BUILD_RUN_ROOT = "/var/run/isula-build"
ISULA_BUILD_LOG_LEVELS = ("", "debug", "info", "warn", "error")
# configuration.toml keys with nothing to do in bb: no daemon, so no socket group, no hosts
ISULA_BUILD_DAEMON_KEYS = frozenset({"group", "hosts"})


@dataclass
class StoreOptions:
    """Where the store lives and which driver, with which options, it uses."""

    graph_root: str = DEFAULT_GRAPH_ROOT
    run_root: str = DEFAULT_RUN_ROOT
    #: None: whatever driver the store already uses, else the first that runs here
    driver: str | None = None
    driver_options: dict[str, str] = field(default_factory=dict)
    #: options given with --storage-opt, checked strictly against the driver
    flag_options: dict[str, str] = field(default_factory=dict)
    #: isula-build's registries.toml, when its configuration is the one read
    registries_config: str | None = None
    #: configuration.toml's `debug = true` (or loglevel "debug"): tracebacks with errors
    debug: bool = False

    def options_for(self, driver: str) -> dict[str, str]:
        """The options that apply to `driver`: the file's (minus other drivers') then the flags'."""
        other_prefixes = tuple(p for name, p in DRIVER_OPTION_PREFIXES.items() if name != driver)
        from_file = {
            k: v for k, v in self.driver_options.items() if not k.startswith(other_prefixes)
        }
        return {**from_file, **self.flag_options}


def _flatten_options(table: dict[str, Any], config_path: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            prefix = OPTION_TABLE_PREFIXES.get(key)
            if prefix is None:
                raise InvalidArgument(f"{config_path}: unknown table [storage.options.{key}]")
            renamed = THINPOOL_KEY_OPTIONS if key == "thinpool" else {}
            for inner_key, inner_value in value.items():
                name = renamed.get(inner_key, prefix + inner_key)
                options[name] = _option_text(inner_value)
        else:
            options[key] = _option_text(value)
    return options


def _option_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_storage_opts(values: list[str]) -> dict[str, str]:
    """Parse repeated `--storage-opt KEY=VALUE` flags."""
    options = {}
    for value in values:
        key, equals, text = value.partition("=")
        if not equals or not key.strip():
            raise InvalidArgument(f'--storage-opt "{value}": expected KEY=VALUE')
        options[key.strip()] = text.strip()
    return options


def _read_toml(path: str) -> dict[str, Any]:
    import toml

    try:
        return toml.load(path)
    except (toml.TomlDecodeError, OSError, UnicodeDecodeError) as failure:
        raise InvalidArgument(f"{path}: {failure}") from None


def _text(document: dict[str, Any], key: str, path: str) -> str:
    value = document.get(key, "")
    if not isinstance(value, str):
        raise InvalidArgument(f"{path}: {key} must be a string")
    return value


def _read_isula_build_configuration(path: str, options: StoreOptions) -> str:
    """Apply isula-build's configuration.toml to `options`; return the storage.toml beside it."""
    if not os.path.isfile(path):
        raise InvalidArgument(f"--config {path}: no such file")
    document = _read_toml(path)
    known = {"debug", "loglevel", "run_root", "data_root", "runtime", "experimental"}
    unknown = sorted(set(document) - known - ISULA_BUILD_DAEMON_KEYS)
    if unknown:
        raise InvalidArgument(f'{path}: unknown key "{unknown[0]}"')
    for key in ("debug", "experimental"):
        if not isinstance(document.get(key, False), bool):
            raise InvalidArgument(f"{path}: {key} must be true or false")
    level = _text(document, "loglevel", path)
    if level not in ISULA_BUILD_LOG_LEVELS:
        raise InvalidArgument(f'{path}: loglevel "{level}": use debug, info, warn or error')
    runtime = _text(document, "runtime", path)
    if runtime and os.path.basename(runtime) != "runc":
        raise InvalidArgument(f'{path}: runtime "{runtime}": bb runs steps with runc only')
    options.graph_root = _text(document, "data_root", path) or ISULA_BUILD_DATA_ROOT
    options.run_root = _text(document, "run_root", path) or ISULA_BUILD_RUN_ROOT
    options.debug = bool(document.get("debug")) or level == "debug"
    directory = os.path.dirname(os.path.abspath(path))
    options.registries_config = os.path.join(directory, "registries.toml")
    return os.path.join(directory, "storage.toml")


def load_store_options(
    config_path: str | None = None,
    graph_root: str | None = None,
    run_root: str | None = None,
    driver: str | None = None,
    storage_opts: list[str] | None = None,
    isula_build: bool = False,
) -> StoreOptions:
    """Read the config file (if any), then let each flag that was given override it.

    `isula_build` (a `bb ctr-img` verb) reads isula-build's files when they exist and no
    --config was given."""
    explicit = config_path is not None
    options = StoreOptions()
    if not explicit and isula_build and os.path.exists(ISULA_BUILD_CONFIGURATION):
        config_path = ISULA_BUILD_CONFIGURATION
    path = config_path or DEFAULT_CONFIG_PATH
    isula_build_roots = None
    if os.path.basename(path) == "configuration.toml":
        path = _read_isula_build_configuration(path, options)
        isula_build_roots = (options.graph_root, options.run_root)
        explicit = False  # isula-build's storage.toml may be absent: its defaults then
    if os.path.exists(path):
        document = _read_toml(path)
        storage = document.get("storage", {})
        if not isinstance(storage, dict):
            raise InvalidArgument(f"{path}: [storage] must be a table")
        options.graph_root = str(storage.get("graphroot", options.graph_root))
        options.run_root = str(storage.get("runroot", options.run_root))
        options.driver = storage.get("driver") or None
        options.driver_options = _flatten_options(storage.get("options", {}), path)
    elif explicit:
        raise InvalidArgument(f"--config {path}: no such file")
    if isula_build_roots is not None:  # isula-build: configuration.toml's roots beat storage.toml's
        options.graph_root, options.run_root = isula_build_roots
    options.graph_root = os.path.abspath(graph_root or options.graph_root)
    options.run_root = os.path.abspath(run_root or options.run_root)
    options.driver = driver or options.driver
    options.flag_options = parse_storage_opts(storage_opts or [])
    return options
