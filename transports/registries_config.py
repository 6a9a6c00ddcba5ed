"""/etc/bb/registries.toml: registries to search for short names, and registries reached without TLS.

Both spellings of containers' registries.conf are read:
  [registries.search] registries = [...]   and   [registries.insecure] registries = [...]
  unqualified-search-registries = [...]     and   [[registry]] location = "..." insecure = true
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

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
    tables = document.get("registries", {})
    config.search = list(tables.get("search", {}).get("registries", []))
    config.search += [r for r in document.get("unqualified-search-registries", []) if r not in config.search]
    config.insecure = set(tables.get("insecure", {}).get("registries", []))
    for entry in document.get("registry", []):
        if entry.get("insecure"):
            config.insecure.add(entry.get("location", ""))
    return config
