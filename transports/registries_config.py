"""/etc/bb/registries.toml: registries to search for short names, those reached without TLS,
and (containers-registries.conf(5) v2) where names are pulled from.

Both spellings of containers' registries.conf are read:
  [registries.search] registries = [...]   and   [registries.insecure] registries = [...]
  unqualified-search-registries = [...]     and   [[registry]] location = "..." insecure = true
A `[[registry]]` entry matches names under its `prefix` (default: its `location`): they are
pulled from its `[[registry.mirror]]` locations in order, then from `location` (the prefix
rewritten to it); `blocked = true` refuses them; `insecure` allows plain HTTP.
A short name is pulled as its `[aliases]` entry says, else from the search registries as
`short-name-mode` says (see RegistriesConfig.short_name_candidates).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from bb.errors import InvalidArgument

DEFAULT_PATH = "/etc/bb/registries.toml"
# containers-registries.conf(5)'s; permissive when not given
SHORT_NAME_MODES = ("enforcing", "permissive", "disabled")


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
    short_name_mode: str = "permissive"
    #: `[aliases]`: short name (no tag or digest) -> fully qualified name
    aliases: dict[str, str] = field(default_factory=dict)

    def short_name_candidates(self, image: str) -> list[str]:
        """The fully qualified names a short name may be pulled as, in order: its alias, else
        each search registry's. bb never prompts: where containers' tools would ask at a
        terminal (enforcing, several search registries), the ambiguity is an error naming them.
        """
        name = re.split(r"[:@]", image, maxsplit=1)[0]
        if name in self.aliases:  # the alias's name, with the tag or digest asked for
            return [self.aliases[name] + image[len(name) :]]
        candidates = [f"{registry}/{image}" for registry in self.search]
        if self.short_name_mode == "enforcing" and len(candidates) > 1:
            raise InvalidArgument(
                f'short name "{image}" is ambiguous: {", ".join(candidates)} '
                f"(short-name-mode is enforcing in {self.path}; give the full name, "
                "or an [aliases] entry)"
            )
        return candidates

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
    mode = _typed(document.get("short-name-mode") or "permissive", str, "short-name-mode", path)
    if mode not in SHORT_NAME_MODES:
        raise InvalidArgument(
            f'{path}: short-name-mode "{mode[:40]}": must be one of {", ".join(SHORT_NAME_MODES)}'
        )
    config.short_name_mode = mode
    aliases = _typed(document.get("aliases", {}), dict, "aliases", path)
    for name, value in aliases.items():
        _typed(value, str, f'aliases."{name[:40]}"', path)
        _check_alias(name, value, path)
        if value:  # "" erases an alias (of a file read before, in containers' drop-ins)
            config.aliases[name] = value
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


def _check_alias(name: str, value: str, path: str) -> None:
    """An alias maps a short name to a fully qualified one, neither with a tag or digest."""
    from bb.image.reference import is_qualified, parse_reference

    key = f'aliases."{name[:40]}"'
    try:
        if is_qualified(name) or name.split("/", 1)[0] == "localhost":
            raise InvalidArgument("the name must be a short name")
        for text in (name, value) if value else (name,):
            if re.search(r"[:@]", text.rsplit("/", 1)[-1]):
                raise InvalidArgument("neither side may have a tag or digest")
            parse_reference(text)
        if value and not is_qualified(value):
            raise InvalidArgument("the value must be a fully qualified name")
    except InvalidArgument as failure:
        raise InvalidArgument(f"{path}: {key}: {failure}") from None


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
