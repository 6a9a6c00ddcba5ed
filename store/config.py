"""Storage configuration: `/etc/bb/storage.toml` (containers-storage form), overridden by flags."""

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
DRIVER_OPTION_PREFIXES = {"devicemapper": "dm.", "overlay": "overlay.", "vfs": "vfs."}


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
            for inner_key, inner_value in value.items():
                options[prefix + inner_key] = _option_text(inner_value)
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


def load_store_options(
    config_path: str | None = None,
    graph_root: str | None = None,
    run_root: str | None = None,
    driver: str | None = None,
    storage_opts: list[str] | None = None,
) -> StoreOptions:
    """Read the config file (if any), then let each flag that was given override it."""
    explicit = config_path is not None
    path = config_path or DEFAULT_CONFIG_PATH
    options = StoreOptions()
    if os.path.exists(path):
        import toml

        try:
            document = toml.load(path)
        except (toml.TomlDecodeError, OSError, UnicodeDecodeError) as failure:
            raise InvalidArgument(f"{path}: {failure}") from None
        storage = document.get("storage", {})
        if not isinstance(storage, dict):
            raise InvalidArgument(f"{path}: [storage] must be a table")
        options.graph_root = str(storage.get("graphroot", options.graph_root))
        options.run_root = str(storage.get("runroot", options.run_root))
        options.driver = storage.get("driver") or None
        options.driver_options = _flatten_options(storage.get("options", {}), path)
    elif explicit:
        raise InvalidArgument(f"--config {path}: no such file")
    options.graph_root = os.path.abspath(graph_root or options.graph_root)
    options.run_root = os.path.abspath(run_root or options.run_root)
    options.driver = driver or options.driver
    options.flag_options = parse_storage_opts(storage_opts or [])
    return options
