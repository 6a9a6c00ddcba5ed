"""Every change to the image config the next commit writes (Env, Cmd, Labels, ...).

`ImageConfig` is the one setter API: `bb config` (`apply_config`) and the Dockerfile
front end (`bb.dockerfile_executor.stage`) both change a config only through it, so
both write exactly the same config.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bb.errors import InvalidArgument
from bb.image.healthcheck import HealthcheckOptions, healthcheck_config
from bb.working_container.container import WorkingContainer

# what shell-form commands run in when the config names no Shell (docker's default)
DEFAULT_SHELL = ["/bin/sh", "-c"]
_PORT = re.compile(r"\d{1,5}(-\d{1,5})?(/(tcp|udp|sctp))?")


def _split_assignment(entry: str, flag: str) -> tuple[str, str | None]:
    """`K=V` -> (K, V); `K-` -> (K, None) meaning remove."""
    if "=" in entry:
        key, _, value = entry.partition("=")
        if not key:
            raise InvalidArgument(f'{flag} "{entry}": missing name before "="')
        return key, value
    if entry.endswith("-") and len(entry) > 1:
        return entry[:-1], None
    raise InvalidArgument(f'{flag} "{entry}": expected KEY=VALUE (or KEY- to remove)')


def set_annotations(annotations: dict[str, str], entries: list[str]) -> None:
    """Set `K=V` or remove `K-` manifest annotations."""
    _set_mapping(annotations, entries, "--annotation")


def _set_mapping(mapping: dict[str, str], entries: list[str], flag: str) -> None:
    for entry in entries:
        key, value = _split_assignment(entry, flag)
        if value is None:
            mapping.pop(key, None)
        else:
            mapping[key] = value


def _port_key(spec: str, flag: str) -> str:
    if not _PORT.fullmatch(spec):
        raise InvalidArgument(f'{flag} "{spec}": expected PORT[/tcp|udp|sctp]')
    return spec if "/" in spec else spec + "/tcp"


def _volume_path(path: str, flag: str) -> str:
    if not path.startswith("/"):
        raise InvalidArgument(f'{flag} "{path}": must be an absolute path')
    return path


class ImageConfig:
    """Setters over one image config document ({"config": {...}, "author", "architecture", ...}).

    Each setter validates its input (errors name `flag`, the option or instruction it came
    from) and edits the document in place; None means "remove".
    """

    def __init__(self, document: dict[str, Any]):
        self.document = document

    @property
    def config(self) -> dict[str, Any]:
        """The runtime part (Env, Cmd, WorkingDir, ...)."""
        return self.document.setdefault("config", {})

    @property
    def shell(self) -> list[str]:
        """What shell-form commands are run with."""
        return self.config.get("Shell") or DEFAULT_SHELL

    def shell_form(self, command: str) -> list[str]:
        """A shell-form command as the argv the config's shell runs it with."""
        return [*self.shell, command]

    def env(self) -> dict[str, str]:
        """The environment, name to value."""
        return dict(entry.partition("=")[::2] for entry in self.config.get("Env") or [])

    def set_env(self, entries: list[str], flag: str = "--env") -> None:
        """Set `K=V`, remove `K-`, or take `K`'s value from bb's own environment."""
        env = self.env()
        for entry in entries:
            if "=" not in entry and not entry.endswith("-") and entry:
                if entry in os.environ:
                    env[entry] = os.environ[entry]
                continue
            key, value = _split_assignment(entry, flag)
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        self._set("Env", [f"{key}={value}" for key, value in env.items()] or None)

    def set_labels(self, entries: list[str], flag: str = "--label") -> None:
        """Set `K=V` or remove `K-` labels."""
        labels = dict(self.config.get("Labels") or {})
        _set_mapping(labels, entries, flag)
        self._set("Labels", labels or None)

    def set_ports(self, ports: list[str], flag: str = "--port") -> None:
        """Expose `PORT[/PROTO]` (tcp by default); `PORT-` stops exposing it."""
        self._set_members("ExposedPorts", ports, lambda spec: _port_key(spec, flag))

    def set_volumes(self, volumes: list[str], flag: str = "--volume") -> None:
        """Declare volume paths; `PATH-` removes one."""
        self._set_members("Volumes", volumes, lambda path: _volume_path(path, flag))

    def set_cmd(self, command: list[str] | None) -> None:
        """The default command (its arguments, with an entrypoint)."""
        self._set("Cmd", command)

    def set_entrypoint(self, command: list[str] | None) -> None:
        """The entrypoint."""
        self._set("Entrypoint", command)

    def set_workdir(self, path: str | None) -> None:
        """The working directory."""
        self._set("WorkingDir", path or None)

    def set_user(self, user: str | None) -> None:
        """The user[:group] commands run as."""
        self._set("User", user or None)

    def set_shell(self, shell: list[str] | None) -> None:
        """The shell for shell-form commands (None: the default, /bin/sh -c)."""
        self._set("Shell", shell or None)

    def set_stop_signal(self, value: str, flag: str = "--stop-signal") -> None:
        """The signal that stops the container: a name (SIGTERM, TERM) or number."""
        self._set("StopSignal", check_stop_signal(value, flag))

    def set_healthcheck(self, check: dict[str, Any]) -> None:
        """The Healthcheck document (see bb.image.healthcheck)."""
        self._set("Healthcheck", check)

    def add_onbuild(self, triggers: list[str]) -> None:
        """Append trigger instructions for images built FROM this one."""
        if triggers:
            self._set("OnBuild", [*(self.config.get("OnBuild") or []), *triggers])

    def take_onbuild(self) -> list[str]:
        """The triggers inherited from the base image, removed (a child build runs them once)."""
        return self.config.pop("OnBuild", None) or []

    def set_author(self, author: str | None) -> None:
        """The image author."""
        self._set_top("author", author or None)

    def set_architecture(self, architecture: str) -> None:
        """The image architecture."""
        self._set_top("architecture", architecture)

    def set_os(self, os_name: str) -> None:
        """The image operating system."""
        self._set_top("os", os_name)

    def _set(self, key: str, value: Any) -> None:
        if value is None:
            self.config.pop(key, None)
        else:
            self.config[key] = value

    def _set_top(self, key: str, value: Any) -> None:
        if value is None:
            self.document.pop(key, None)
        else:
            self.document[key] = value

    def _set_members(self, key: str, values: list[str], member: Callable[[str], str]) -> None:
        """Add members to a set-like map ({"x": {}}); `VALUE-` removes; `member` validates and
        normalises."""
        members = dict(self.config.get(key) or {})
        for value in values:
            remove = value.endswith("-")
            name = member(value[:-1] if remove else value)
            if remove:
                members.pop(name, None)
            else:
                members[name] = {}
        self._set(key, members or None)


def parse_command(value: str, flag: str, shell: list[str] | None) -> list[str] | None:
    """A JSON array as is; other text wrapped in the shell (`shell`) or split like a shell would."""
    if value == "":
        return None
    stripped = value.strip()
    if stripped.startswith("["):
        try:
            parsed = json.loads(stripped)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
            return parsed
    if shell is not None:
        return [*shell, value]
    try:
        return shlex.split(value)
    except ValueError as failure:
        raise InvalidArgument(f'{flag} "{value}": {failure}') from None


def check_stop_signal(value: str, flag: str = "--stop-signal") -> str:
    """A signal name (SIGTERM, TERM) or number."""
    if value.isdigit() and 0 < int(value) < 65:
        return value
    name = value.upper() if value.upper().startswith("SIG") else "SIG" + value.upper()
    if name in signal.Signals.__members__ or re.fullmatch(r"SIGRTM(IN|AX)([+-]\d+)?", name):
        return value
    raise InvalidArgument(f'{flag} "{value}": unknown signal')


@dataclass
class ConfigOptions:
    """Every `bb config` flag; None / empty means "leave as is"."""

    env: list[str] = field(default_factory=list)
    cmd: str | None = None
    entrypoint: str | None = None
    workingdir: str | None = None
    user: str | None = None
    labels: list[str] = field(default_factory=list)
    annotations: list[str] = field(default_factory=list)
    ports: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    stop_signal: str | None = None
    author: str | None = None
    shell: str | None = None
    healthcheck: HealthcheckOptions | None = None
    onbuild: list[str] = field(default_factory=list)
    arch: str | None = None
    os: str | None = None
    created_by: str | None = None


def apply_config(container: WorkingContainer, options: ConfigOptions) -> None:
    """Apply `bb config` flags to the container's image config and save it."""
    image = ImageConfig(container.image_config)
    if options.shell is not None:
        image.set_shell(parse_command(options.shell, "--shell", None))
    image.set_env(options.env)
    if options.cmd is not None:
        image.set_cmd(parse_command(options.cmd, "--cmd", None))
    if options.entrypoint is not None:
        image.set_entrypoint(parse_command(options.entrypoint, "--entrypoint", image.shell))
    if options.workingdir is not None:
        image.set_workdir(options.workingdir)
    if options.user is not None:
        image.set_user(options.user)
    image.set_labels(options.labels)
    set_annotations(container.manifest_annotations, options.annotations)
    image.set_ports(options.ports)
    image.set_volumes(options.volumes)
    if options.stop_signal is not None:
        image.set_stop_signal(options.stop_signal)
    if options.author is not None:
        image.set_author(options.author)
    if options.healthcheck is not None:
        image.set_healthcheck(healthcheck_config(options.healthcheck))
    image.add_onbuild(options.onbuild)
    if options.arch is not None:
        image.set_architecture(options.arch)
    if options.os is not None:
        image.set_os(options.os)
    if options.created_by:
        container.add_history(options.created_by, empty_layer=True)
    container.save()
