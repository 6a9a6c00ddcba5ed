"""`bb config`: edit the image config the next commit writes (Env, Cmd, Labels, ...).

The same setters serve `bb config` and the Dockerfile instructions, so both
write exactly the same config.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
from dataclasses import dataclass, field
from typing import Any, Callable

from bb.errors import InvalidArgument
from bb.image.healthcheck import HealthcheckOptions, healthcheck_config
from bb.working_container.container import WorkingContainer

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


def set_env(config: dict[str, Any], entries: list[str]) -> None:
    """Set `K=V`, remove `K-`, or take `K`'s value from bb's own environment."""
    env: dict[str, str] = dict(entry.partition("=")[::2] for entry in config.get("Env") or [])
    for entry in entries:
        if "=" not in entry and not entry.endswith("-") and entry:
            if entry in os.environ:
                env[entry] = os.environ[entry]
            continue
        key, value = _split_assignment(entry, "--env")
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    config["Env"] = [f"{key}={value}" for key, value in env.items()]


def set_labels(config: dict[str, Any], entries: list[str], flag: str = "--label") -> None:
    """Set `K=V` or remove `K-` labels."""
    _set_mapping(config.setdefault("Labels", {}), entries, flag)
    if not config["Labels"]:
        del config["Labels"]


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


def _set_members(config: dict[str, Any], key: str, values: list[str], member: Callable[[str], str]) -> None:
    """Add members to a set-like config map ({"x": {}}); `VALUE-` removes; `member` validates and normalises."""
    members = config.setdefault(key, {})
    for value in values:
        remove = value.endswith("-")
        name = member(value[:-1] if remove else value)
        if remove:
            members.pop(name, None)
        else:
            members[name] = {}
    if not members:
        del config[key]


def set_ports(config: dict[str, Any], ports: list[str], flag: str = "--port") -> None:
    """Expose `PORT[/PROTO]` (tcp by default); `PORT-` stops exposing it."""

    def port_key(spec: str) -> str:
        if not _PORT.fullmatch(spec):
            raise InvalidArgument(f'{flag} "{spec}": expected PORT[/tcp|udp|sctp]')
        return spec if "/" in spec else spec + "/tcp"

    _set_members(config, "ExposedPorts", ports, port_key)


def set_volumes(config: dict[str, Any], volumes: list[str], flag: str = "--volume") -> None:
    """Declare volume paths; `PATH-` removes one."""

    def volume_path(path: str) -> str:
        if not path.startswith("/"):
            raise InvalidArgument(f'{flag} "{path}": must be an absolute path')
        return path

    _set_members(config, "Volumes", volumes, volume_path)


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
    config, image_config = container.config, container.image_config
    if options.shell is not None:
        shell = parse_command(options.shell, "--shell", None)
        if shell:
            config["Shell"] = shell
        else:
            config.pop("Shell", None)
    shell_form = config.get("Shell") or ["/bin/sh", "-c"]
    set_env(config, options.env)
    if options.cmd is not None:
        _set_or_clear(config, "Cmd", parse_command(options.cmd, "--cmd", None))
    if options.entrypoint is not None:
        _set_or_clear(config, "Entrypoint", parse_command(options.entrypoint, "--entrypoint", shell_form))
    if options.workingdir is not None:
        _set_or_clear(config, "WorkingDir", options.workingdir or None)
    if options.user is not None:
        _set_or_clear(config, "User", options.user or None)
    set_labels(config, options.labels)
    set_annotations(container.manifest_annotations, options.annotations)
    set_ports(config, options.ports)
    set_volumes(config, options.volumes)
    if options.stop_signal is not None:
        config["StopSignal"] = check_stop_signal(options.stop_signal)
    if options.author is not None:
        _set_or_clear(image_config, "author", options.author or None)
    if options.healthcheck is not None:
        config["Healthcheck"] = healthcheck_config(options.healthcheck)
    if options.onbuild:
        config["OnBuild"] = [*(config.get("OnBuild") or []), *options.onbuild]
    if options.arch is not None:
        image_config["architecture"] = options.arch
    if options.os is not None:
        image_config["os"] = options.os
    if not config.get("Env"):
        config.pop("Env", None)
    if options.created_by:
        container.add_history(options.created_by, empty_layer=True)
    container.save()


def _set_or_clear(mapping: dict[str, Any], key: str, value: Any) -> None:
    if value is None:
        mapping.pop(key, None)
    else:
        mapping[key] = value
