"""/etc/bb/registries.toml: registries to search for short names, and those reached without TLS.

Both spellings of containers' registries.conf are read:
  [registries.search] registries = [...]   and   [registries.insecure] registries = [...]
  unqualified-search-registries = [...]     and   [[registry]] location = "..." insecure = true
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from bb.errors import InvalidArgument

DEFAULT_PATH = "/etc/bb/registries.toml"


@dataclass
class RegistriesConfig:
    """Search and insecure registries."""

    search: list[str] = field(default_factory=list)
    insecure: set[str] = field(default_factory=set)
    path: str = ""


def load_registries_config() -> RegistriesConfig:
    """Read $BB_REGISTRIES_CONFIG or /etc/bb/registries.toml (missing: nothing configured)."""
    path = os.environ.get("BB_REGISTRIES_CONFIG") or DEFAULT_PATH
    config = RegistriesConfig(path=path)
    if not os.path.exists(path):
        return config
    import toml

    try:
        document = toml.load(path)
    except (toml.TomlDecodeError, OSError, UnicodeDecodeError) as failure:
        raise InvalidArgument(f"{path}: {failure}") from None
    tables = _typed(document.get("registries", {}), dict, "registries", path)
    search = _typed(tables.get("search", {}), dict, "registries.search", path)
    config.search = _names(search.get("registries", []), "registries.search.registries", path)
    unqualified = _names(
        document.get("unqualified-search-registries", []), "unqualified-search-registries", path
    )
    config.search += [r for r in unqualified if r not in config.search]
    insecure = _typed(tables.get("insecure", {}), dict, "registries.insecure", path)
    config.insecure = set(
        _names(insecure.get("registries", []), "registries.insecure.registries", path)
    )
    for entry in _typed(document.get("registry", []), list, "registry", path):
        entry = _typed(entry, dict, "[[registry]]", path)
        if entry.get("insecure"):
            config.insecure.add(_typed(entry.get("location", ""), str, "registry.location", path))
    return config


def _typed(value: Any, kind: type, key: str, path: str) -> Any:
    """`value`, refused (naming the file and key) unless of `kind`."""
    if not isinstance(value, kind):
        raise InvalidArgument(
            f"{path}: {key} must be a {'table' if kind is dict else kind.__name__}"
        )
    return value


def _names(value: Any, key: str, path: str) -> list[str]:
    """A list of registry names."""
    names = _typed(value, list, key, path)
    if not all(isinstance(name, str) for name in names):
        raise InvalidArgument(f"{path}: {key} must be a list of strings")
    return names
