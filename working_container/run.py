"""`bb run`: run a command in the working container with runc."""

from __future__ import annotations

import contextlib
import os
import posixpath
import shlex
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bb.archive.fsmeta import DirectoryTimes
from bb.archive.securejoin import clean_relative, resolve_in_root
from bb.errors import CommandNotExecutable, CommandNotFound, InvalidArgument, RunFailed
from bb.image.platform import Platform
from bb.runtime.runc import bundle_directory, run_bundle
from bb.runtime.spec import (
    BASE_MOUNTS,
    Confinement,
    ProcessSpec,
    capability_set,
    runtime_spec,
    seccomp_filter,
)
from bb.runtime.users import resolve_user
from bb.system.host import check_emulation
from bb.working_container.container import WorkingContainer

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Files every step gets from the host, copied so a step's edits stay out of the host and the image.
HOST_FILES = {"/etc/hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost\n", "/etc/resolv.conf": ""}


@dataclass
class RunOptions:
    """What `bb run` (or a RUN instruction) asks for."""

    command: list[str]
    env: list[str] = field(default_factory=list)
    workingdir: str | None = None
    user: str | None = None
    terminal: bool = False
    confinement: Confinement = field(default_factory=Confinement)
    volumes: list[str] = field(default_factory=list)
    #: further OCI mounts, ready made (RUN --mount)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    created_by: str | None = None
    #: send the command's output to /dev/null (quiet builds)
    discard_output: bool = False


def parse_volume(spec: str) -> dict[str, Any]:
    """`SRC:DST[:ro|rw]` -> a bind mount; SRC must exist on the host."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise InvalidArgument(f'--volume "{spec}": expected SRC:DST[:ro]')
    source, destination = os.path.abspath(parts[0]), parts[1]
    mode = parts[2] if len(parts) == 3 else "rw"
    if mode not in ("ro", "rw"):
        raise InvalidArgument(f'--volume "{spec}": unknown option "{mode}" (ro or rw)')
    if not destination.startswith("/"):
        raise InvalidArgument(f'--volume "{spec}": destination must be an absolute path')
    if not os.path.exists(source):
        raise InvalidArgument(f'--volume "{spec}": source {source} does not exist')
    return {
        "destination": destination,
        "type": "bind",
        "source": source,
        "options": ["rbind", mode],
    }


def merge_env(base: list[str], overrides: list[str]) -> list[str]:
    """Environment list `base` with `K=V` entries of `overrides` replacing same-named ones."""
    merged: dict[str, str] = {}
    for entry in [*base, *overrides]:
        key, _, value = entry.partition("=")
        merged[key] = value
    return [f"{key}={value}" for key, value in merged.items()]


def _check_env(entries: list[str], where: str) -> None:
    """Refuse what runc would fail on with only "exit status 1": a variable with no name."""
    for entry in entries:
        if not entry.partition("=")[0]:
            raise InvalidArgument(f'{where}: environment variable "{entry}" has no name')


def _environment(config: dict[str, Any], extra: list[str], home: str, terminal: bool) -> list[str]:
    _check_env(config.get("Env") or [], "the container's config")
    _check_env(extra, "--env")
    env = merge_env(config.get("Env") or [], extra)
    keys = {entry.partition("=")[0] for entry in env}
    defaults = [("PATH", DEFAULT_PATH), ("HOME", home)] + ([("TERM", "xterm")] if terminal else [])
    return env + [f"{key}={value}" for key, value in defaults if key not in keys]


def check_command(rootfs: str, command: str, env: list[str], cwd: str) -> None:
    """Fail as a shell would (127 not found, 126 not executable) before starting runc."""
    if "/" in command:
        candidates = [command if command.startswith("/") else os.path.join(cwd, command)]
    else:
        path = next((entry[5:] for entry in env if entry.startswith("PATH=")), DEFAULT_PATH)
        candidates = [os.path.join(directory or ".", command) for directory in path.split(":")]
    not_executable = False
    for candidate in candidates:
        host = resolve_in_root(rootfs, candidate)
        try:
            info = os.stat(host)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        if info.st_mode & 0o111:
            return
        not_executable = True
    if not_executable:
        raise CommandNotExecutable(command, "permission denied")
    raise CommandNotFound(command)


def lexical_path(path: str) -> str:
    """An absolute container path with `..` taken lexically: WORKDIR /made/../kept/ (kept so in
    the config, as buildah and docker do) is the directory /kept."""
    return "/" + clean_relative(posixpath.normpath("/" + path))


def make_directory(rootfs: str, path: str, user: str | None = None) -> None:
    """mkdir -p inside the container's root (symlinks resolved within it).

    With `user` (a USER value), the directories made are owned by that user, as
    buildah and BuildKit make a WORKDIR."""
    owner = None
    if user:
        resolved = resolve_user(rootfs, user)
        owner = (resolved.uid, resolved.gid)
    walked = ""
    for part in clean_relative(path).split("/"):
        if not part:
            continue
        walked = f"{walked}/{part}"
        host = resolve_in_root(rootfs, walked)
        if not os.path.lexists(host):
            os.mkdir(host, 0o755)
            if owner is not None:
                os.chown(host, *owner)


@contextlib.contextmanager
def _temporary_mount_targets(rootfs: str, mounts: list[dict[str, Any]]) -> Iterator[None]:
    """Create missing mount points for the step and remove them after, restoring directory times.

    runc would create them itself, but then /proc, /dev or an empty
    /etc/hosts would end up in the next layer.
    """
    created: list[str] = []
    times = DirectoryTimes()
    mounted_over: list[str] = []
    try:
        for mount in mounts:
            destination = "/" + clean_relative(mount["destination"])
            if any(
                destination == d or destination.startswith(d.rstrip("/") + "/")
                for d in mounted_over
            ):
                continue
            mounted_over.append(destination)
            wants_file = mount["type"] == "bind" and not os.path.isdir(mount["source"])
            parts = destination.strip("/").split("/")
            for depth in range(1, len(parts) + 1):
                host = resolve_in_root(rootfs, "/".join(parts[:depth]))
                if os.path.lexists(host):
                    continue
                times.remember(os.path.dirname(host))
                if depth == len(parts) and wants_file:
                    os.close(os.open(host, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
                else:
                    os.mkdir(host, 0o755)
                created.append(host)
        yield
    finally:
        for host in reversed(created):
            with contextlib.suppress(OSError):
                if os.path.isdir(host) and not os.path.islink(host):
                    os.rmdir(host)
                elif os.path.getsize(host) == 0:
                    os.unlink(host)
        times.restore()


def _host_file(path: str, fallback: str) -> bytes:
    try:
        with open(path, "rb") as host_file:
            return host_file.read()
    except OSError:
        return fallback.encode()


def run_step(container: WorkingContainer, options: RunOptions) -> None:
    """Run `options.command` in the container; a non-zero exit raises RunFailed with its status."""
    if not options.command:
        raise InvalidArgument("no command given to run")
    capabilities = capability_set(options.confinement)
    # before anything is mounted: a missing or malformed profile leaves nothing to undo
    seccomp = seccomp_filter(options.confinement, capabilities)
    check_emulation(Platform.of_document(container.image_config))
    volumes = [parse_volume(spec) for spec in options.volumes]
    config = container.config
    with container.mounted() as rootfs:
        user = resolve_user(rootfs, options.user or config.get("User") or "")
        env = _environment(config, options.env, user.home, options.terminal)
        cwd = lexical_path(options.workingdir or config.get("WorkingDir") or "/")
        make_directory(rootfs, cwd)
        check_command(rootfs, options.command[0], env, cwd)
        with bundle_directory(container.store.run_root) as bundle:
            mounts = [dict(mount) for mount in BASE_MOUNTS]
            for path, fallback in HOST_FILES.items():
                copy = os.path.join(bundle, os.path.basename(path))
                with open(copy, "wb") as bundle_file:
                    bundle_file.write(_host_file(path, fallback))
                mounts.append(
                    {
                        "destination": path,
                        "type": "bind",
                        "source": copy,
                        "options": ["rbind", "rw"],
                    }
                )
            mounts += volumes + options.mounts
            process = ProcessSpec(
                args=list(options.command),
                env=env,
                cwd=cwd,
                uid=user.uid,
                gid=user.gid,
                additional_gids=user.additional_gids,
                terminal=options.terminal,
                capabilities=capabilities,
                no_new_privileges=options.confinement.no_new_privileges,
            )
            spec = runtime_spec(
                rootfs, process, container.id[:12], mounts, options.confinement.network, seccomp
            )
            with _temporary_mount_targets(rootfs, mounts):
                status = run_bundle(container.store.run_root, bundle, spec, options.discard_output)
        if status != 0:  # while mounted: the store explains it if the storage is full
            raise RunFailed(
                f"running `{shlex.join(options.command)}`: exit status {status}", status
            )
    container.add_history(options.created_by or shlex.join(options.command))
    container.save()
