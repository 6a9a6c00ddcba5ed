"""/etc/bb/registries.toml: registries to search for short names, those reached without TLS,
and (containers-registries.conf(5) v2) where names are pulled from.

Both spellings of containers' registries.conf are read:
  [registries.search] registries = [...]   and   [registries.insecure] registries = [...]
  unqualified-search-registries = [...]     and   [[registry]] location = "..." insecure = true
A `[[registry]]` entry matches names under its `prefix` (default: its `location`): they are
pulled from its `[[registry.mirror]]` locations in order, then from `location` (the prefix
rewritten to it); `blocked = true` refuses them; `insecure` allows plain HTTP.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from bb.errors import InvalidArgument

DEFAULT_PATH = "/etc/bb/registries.toml"


@dataclass
class RegistryEntry:
    """One `[[registry]]` table."""

    prefix: str
    location: str
    blocked: bool = False
    #: the `[[registry.mirror]]` locations, in order
    mirrors: list[str] = field(default_factory=list)


@dataclass
class RegistriesConfig:
    """Search and insecure registries, and the `[[registry]]` entries."""

    search: list[str] = field(default_factory=list)
    insecure: set[str] = field(default_factory=set)
    path: str = ""
    registries: list[RegistryEntry] = field(default_factory=list)

    def entry_for(self, name: str) -> RegistryEntry | None:
        """The entry whose prefix matches `name` (REGISTRY/REPOSITORY) the longest, if any."""
        matching = [
            entry
            for entry in self.registries
            if name == entry.prefix or name.startswith(entry.prefix.rstrip("/") + "/")
        ]
        return max(matching, key=lambda entry: len(entry.prefix), default=None)

    def pull_sources(self, name: str) -> list[str]:
        """Where to pull REGISTRY/REPOSITORY from, in order: the mirrors, then the location.

        A blocked name is refused (naming the file)."""
        entry = self.entry_for(name)
        if entry is None:
            return [name]
        if entry.blocked:
            raise InvalidArgument(f"{self.path}: {name} is blocked (prefix {entry.prefix})")
        rest = name[len(entry.prefix.rstrip("/")) :]
        return [location.rstrip("/") + rest for location in [*entry.mirrors, entry.location]]


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
        location = _typed(entry.get("location", ""), str, "registry.location", path)
        prefix = _typed(entry.get("prefix", location), str, "registry.prefix", path)
        if not prefix:
            raise InvalidArgument(f"{path}: a [[registry]] has neither prefix nor location")
        if _typed(entry.get("insecure", False), bool, "registry.insecure", path):
            config.insecure.add(location.split("/", 1)[0])
        mirrors = []
        for mirror in _typed(entry.get("mirror", []), list, "registry.mirror", path):
            mirror = _typed(mirror, dict, "[[registry.mirror]]", path)
            mirror_location = _typed(mirror.get("location"), str, "registry.mirror.location", path)
            if _typed(mirror.get("insecure", False), bool, "registry.mirror.insecure", path):
                config.insecure.add(mirror_location.split("/", 1)[0])
            mirrors.append(mirror_location)
        config.registries.append(
            RegistryEntry(
                prefix,
                location or prefix,
                _typed(entry.get("blocked", False), bool, "registry.blocked", path),
                mirrors,
            )
        )
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
