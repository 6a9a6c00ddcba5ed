"""`RUN --mount=type=bind|cache|tmpfs|secret,...`: BuildKit's option names and defaults.

Each mount becomes an OCI mount of the step. Sources are confined: a bind source is
resolved within the build context or within the stage or image it names; cache
directories live in the store (`<root>/run-cache/`), never in an image; a secret's
contents are read from the file or environment variable `bb build --secret` named
and reach the step only as a read-only file (never a layer, the config, the history,
the cache key or a message).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bb.archive.fsmeta import copy_tree_as_is
from bb.archive.securejoin import clean_relative, resolve_in_root
from bb.dockerfile.parser import Instruction
from bb.dockerfile_executor.cache_keys import sources_digest
from bb.dockerfile_executor.ssh_agent import forwarded_agent
from bb.errors import ArchiveError, InvalidArgument
from bb.store.run_cache import cache_directory
from bb.system.limits import read_at_most
from bb.working_container.copy import CopyOptions

if TYPE_CHECKING:
    from bb.dockerfile_executor.executor import Build

MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
# what each type takes (BuildKit's names; `readonly`/`ro`/`rw` are flags without a value)
_OPTIONS = {
    "bind": {
        "source",
        "src",
        "target",
        "dst",
        "destination",
        "from",
        "rw",
        "readwrite",
        "ro",
        "readonly",
    },
    "cache": {
        "id",
        "from",
        "source",
        "src",
        "target",
        "dst",
        "destination",
        "sharing",
        "mode",
        "uid",
        "gid",
        "ro",
        "readonly",
    },
    "tmpfs": {"target", "dst", "destination", "size"},
    "secret": {"id", "target", "dst", "destination", "required", "mode", "uid", "gid"},
    "ssh": {"id", "target", "dst", "destination", "required", "mode", "uid", "gid"},
}
_ALIASES = {
    "src": "source",
    "dst": "target",
    "destination": "target",
    "readwrite": "rw",
    "readonly": "ro",
}
MAX_SECRET_BYTES = 500 << 10


@dataclass(frozen=True)
class MountRequest:
    """One `--mount=` option of a RUN, parsed (values as written, after expansion)."""

    type: str
    options: tuple[tuple[str, str], ...]

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of option `name` (its canonical spelling), if given."""
        return dict(self.options).get(name, default)

    @property
    def target(self) -> str:
        """Where the mount appears in the step."""
        target = self.get("target")
        if self.type == "secret" and not target:
            return f"/run/secrets/{self.get('id')}"
        assert target is not None
        return target

    def cache_key(self) -> str:
        """What the layer cache keys this mount by: its options (a secret by its id only)."""
        return f"{self.type}:" + ",".join(f"{name}={value}" for name, value in self.options)


def parse_mount(text: str) -> MountRequest:
    """`type=bind,source=x,target=/y,rw` -> a MountRequest; unknown types and options are errors."""
    fields: dict[str, str] = {}
    for item in text.split(","):
        name, equals, value = item.partition("=")
        name = name.strip().lower()
        if not name:
            raise InvalidArgument("--mount: an empty option")
        fields[_ALIASES.get(name, name)] = value if equals else "true"
    mount_type = fields.pop("type", "bind")
    if mount_type not in MOUNT_TYPES:
        raise InvalidArgument(
            f'--mount: type "{mount_type}" is not one of {", ".join(MOUNT_TYPES)}'
        )
    allowed = {_ALIASES.get(name, name) for name in _OPTIONS[mount_type]}
    for name in fields:
        if name not in allowed:
            raise InvalidArgument(f'--mount type={mount_type}: unknown option "{name}"')
    if mount_type == "secret":
        if not fields.get("id") and not fields.get("target"):
            raise InvalidArgument("--mount type=secret: give id= (or target=)")
        fields.setdefault("id", os.path.basename(fields.get("target", "")))
    elif mount_type == "ssh":
        fields["id"] = fields.get("id") or "default"
    elif not fields.get("target"):
        raise InvalidArgument(f"--mount type={mount_type}: target= is required")
    for name in ("mode",):
        if name in fields:
            _octal(fields[name])
    for name in ("uid", "gid"):
        if name in fields and not fields[name].isdigit():
            raise InvalidArgument(f"--mount: {name}= must be a number")
    if fields.get("sharing", "shared") not in ("shared", "private", "locked"):
        raise InvalidArgument("--mount: sharing= must be shared, private or locked")
    return MountRequest(mount_type, tuple(sorted(fields.items())))


def parse_mounts(texts: list[str]) -> list[MountRequest]:
    """The `--mount`s of one RUN; ssh mounts without a target get BuildKit's
    `/run/buildkit/ssh_agent.N` (N counting the RUN's ssh mounts)."""
    requests: list[MountRequest] = []
    for text in texts:
        request = parse_mount(text)
        if request.type == "ssh" and not request.get("target"):
            number = sum(1 for made in requests if made.type == "ssh")
            options = (*request.options, ("target", f"/run/buildkit/ssh_agent.{number}"))
            request = MountRequest("ssh", tuple(sorted(options)))
        requests.append(request)
    return requests


def ssh_auth_sock(build: Build, requests: list[MountRequest]) -> str | None:
    """As BuildKit: SSH_AUTH_SOCK is the first ssh mount the step gets."""
    for request in requests:
        if request.type == "ssh" and request.get("id") in build.options.ssh:
            return request.target
    return None


def mounted_stages(instruction: Instruction) -> list[str]:
    """The `from=` of each `--mount` of a RUN, as written (for which stages a target needs)."""
    names = []
    for name, value in instruction.flags:
        if name == "mount":
            fields = dict(item.partition("=")[::2] for item in (value or "").split(","))
            if fields.get("from"):
                names.append(fields["from"])
    return names


def _octal(text: str) -> int:
    try:
        return int(text, 8)
    except ValueError:
        raise InvalidArgument("--mount: mode= expects octal bits such as 0755") from None


def parse_secret(text: str) -> tuple[str, str]:
    """`bb build --secret id=X,src=FILE|env=VAR` -> (id, "file:PATH" or "env:NAME")."""
    fields = dict(item.partition("=")[::2] for item in text.split(","))
    secret_id = fields.get("id")
    source = fields.get("src") or fields.get("source")
    env = fields.get("env")
    if not secret_id or bool(source) == bool(env):
        raise InvalidArgument("--secret: expected id=ID,src=FILE or id=ID,env=VARIABLE")
    if source:
        return secret_id, "file:" + os.path.abspath(source)
    return secret_id, "env:" + (env or "")


def _secret_bytes(secret_id: str, where: str) -> bytes:
    kind, _, name = where.partition(":")
    if kind == "env":
        if name not in os.environ:
            raise InvalidArgument(f"--secret id={secret_id}: the environment variable is not set")
        return os.environ[name].encode()
    try:
        with open(name, "rb") as source:
            return read_at_most(
                source, MAX_SECRET_BYTES, f"--secret id={secret_id}", InvalidArgument
            )
    except OSError as failure:
        raise InvalidArgument(f"--secret id={secret_id}: {failure.strerror}") from None


@contextlib.contextmanager
def step_mounts(
    build: Build, requests: list[MountRequest], stage_images: dict[int, str], workdir: str
) -> Iterator[list[dict[str, Any]]]:
    """The OCI mounts for one RUN's `--mount`s, ready for the block, undone after it."""
    with contextlib.ExitStack() as stack:
        mounts = []
        # under the run root (a tmpfs on most hosts): secrets written here never reach the disk;
        # named for this process, so the next bb removes them should it be killed
        scratch = stack.enter_context(
            tempfile.TemporaryDirectory(prefix=f"{os.getpid()}-", dir=build.store.step_mounts_dir)
        )
        for number, request in enumerate(requests):
            target = (
                request.target
                if request.target.startswith("/")
                else os.path.join(workdir, request.target)
            )
            options = ["rbind", "ro" if request.type == "secret" or request.get("ro") else "rw"]
            if request.type == "tmpfs":
                size = request.get("size")
                mounts.append(
                    {
                        "destination": target,
                        "type": "tmpfs",
                        "source": "tmpfs",
                        "options": ["nosuid", "nodev", *([f"size={size}"] if size else [])],
                    }
                )
                continue
            if request.type == "secret":
                source = _secret_file(build, request, os.path.join(scratch, f"secret-{number}"))
                if source is None:
                    continue
            elif request.type == "ssh":
                agent = build.options.ssh.get(request.get("id") or "")
                if agent is None:
                    if request.get("required") == "true":
                        raise InvalidArgument(
                            f'--mount type=ssh: no ssh agent "{request.get("id")}" given '
                            f"(bb build --ssh {request.get('id')}=SOCKET)"
                        )
                    continue
                source = stack.enter_context(
                    forwarded_agent(
                        agent,
                        os.path.join(scratch, f"ssh-{number}"),
                        _octal(request.get("mode") or "0600"),
                        int(request.get("uid") or 0),
                        int(request.get("gid") or 0),
                    )
                )
                options = ["rbind", "rw"]
            elif request.type == "cache":
                cache_id = request.get("id") or target
                seed = None
                if request.get("from"):
                    # seeded from a stage, build context or image: a cache of its own per source
                    seed, identity = stack.enter_context(
                        _bound_source(build, request, stage_images)
                    )
                    cache_id += f"\0from={identity}:{request.get('source') or '/'}"
                source = stack.enter_context(
                    cache_directory(
                        build.store,
                        cache_id,
                        request.get("sharing") or "shared",
                        _octal(request.get("mode") or "0755"),
                        int(request.get("uid") or 0),
                        int(request.get("gid") or 0),
                        seed,
                    )
                )
            else:
                source, _ = stack.enter_context(_bound_source(build, request, stage_images))
                if request.get("rw"):
                    # BuildKit's rw bind: the step may write, and what it writes is discarded
                    copy = os.path.join(scratch, f"bind-{number}")
                    if os.path.isdir(source):
                        os.mkdir(copy, 0o700)
                        copy_tree_as_is(source, copy)
                        shutil.copystat(source, copy)
                    else:
                        shutil.copy2(source, copy)
                        info = os.stat(source)
                        os.chown(copy, info.st_uid, info.st_gid)
                    source = copy
                else:
                    options = ["rbind", "ro"]
            mounts.append(
                {"destination": target, "type": "bind", "source": source, "options": options}
            )
        yield mounts


def _secret_file(build: Build, request: MountRequest, path: str) -> str | None:
    secret_id = request.get("id") or ""
    where = build.options.secrets.get(secret_id)
    if where is None:
        if request.get("required") == "true":
            raise InvalidArgument(
                f'--mount type=secret: no secret "{secret_id}" given '
                f"(bb build --secret id={secret_id},src=FILE)"
            )
        return None
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as written:
        written.write(_secret_bytes(secret_id, where))
    os.chmod(path, _octal(request.get("mode") or "0400"))
    os.chown(path, int(request.get("uid") or 0), int(request.get("gid") or 0))
    return path


@contextlib.contextmanager
def _bound_source(
    build: Build, request: MountRequest, stage_images: dict[int, str]
) -> Iterator[tuple[str, str]]:
    """The host path of a mount's `source=` in its tree (confined to it), and what that tree is
    (the context or a directory's path, an image's ID)."""
    with _source_root(build, request, stage_images) as (root, identity):
        try:
            source = resolve_in_root(root, clean_relative(request.get("source") or "/"))
        except ArchiveError:
            raise InvalidArgument(
                f'--mount source "{request.get("source")}": outside its root'
            ) from None
        if not os.path.lexists(source):
            raise InvalidArgument(
                f'--mount source "{request.get("source")}": no such file or directory'
            )
        yield source, identity


def _from_image(build: Build, request: MountRequest, stage_images: dict[int, str]) -> str | None:
    """The image ID a mount's `from=` names; None for the context or a directory context."""
    source = request.get("from")
    if not source:
        return None
    index = build.stage_index(source, allow_index=True)
    image_id = stage_images.get(index) if index is not None else None
    named = build.named_context(source)
    if image_id is None and named is not None:
        return None if named.directory is not None else build.context_image(named)
    return image_id or build.store.images.lookup(source).id


@contextlib.contextmanager
def _source_root(
    build: Build, request: MountRequest, stage_images: dict[int, str]
) -> Iterator[tuple[str, str]]:
    """The tree a mount's source is in: the context, or the stage, build context or image
    `from=` names; and what it is (a directory's path, an image's ID)."""
    image_id = _from_image(build, request, stage_images)
    if image_id is None:
        named = build.named_context(request.get("from") or "")
        directory = named.directory if named and named.directory else build.context_dir
        yield directory, directory
        return
    record = build.store.images.get(image_id)
    if record.top_layer is None:
        with tempfile.TemporaryDirectory() as empty:
            yield empty, image_id
        return
    with build.store.driver.read_only_view(record.top_layer) as root:
        yield root, image_id


def mounts_key(build: Build, requests: list[MountRequest], stage_images: dict[int, str]) -> str:
    """What the layer cache keys a RUN's mounts by: their options, and what a bind mount or a
    seeded cache reads (the image it comes from, or a digest of the files; a secret by its id
    only)."""
    parts = []
    for request in requests:
        parts.append(request.cache_key())
        if request.type == "bind" or (request.type == "cache" and request.get("from")):
            image_id = _from_image(build, request, stage_images)
            if image_id is not None:
                parts.append(image_id)
            else:
                with _source_root(build, request, stage_images) as (root, _):
                    parts.append(
                        sources_digest(
                            CopyOptions(
                                sources=[request.get("source") or "."],
                                destination="/",
                                source_root=root,
                                verb="RUN --mount",
                            )
                        )
                    )
    return json.dumps(parts)
