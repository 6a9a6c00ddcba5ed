"""`bb build`: read Dockerfile and context, build the stages the target needs, name the result."""

from __future__ import annotations

import dataclasses
import datetime
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bb.dockerfile.dockerignore import DockerIgnore, read_dockerignore
from bb.dockerfile.expand import split_words_keeping_quotes
from bb.dockerfile.instructions import assignments, expanded_word
from bb.dockerfile.parser import Dockerfile, read_dockerfile
from bb.dockerfile_executor.run_mounts import mounted_stages
from bb.dockerfile_executor.stage import ArgEnvironment, StageBuild
from bb.errors import BBError, InvalidArgument
from bb.image.config import check_format, host_architecture, host_variant
from bb.runtime.spec import Confinement
from bb.store.build_cache import BuildCache
from bb.store.images import ImageRecord, normalize_name
from bb.store.removal import remove_images, tag_image
from bb.store.store import Store
from bb.transports.base import TransportOptions
from bb.working_container.container import PULL_POLICIES, WorkingContainer

if TYPE_CHECKING:
    from bb.dockerfile_executor.remote_cache import RemoteCache

DOCKERFILE_NAMES = ("Dockerfile", "dockerfile")


@dataclass
class BuildOptions:
    """What `bb build` asks for."""

    context_dir: str
    dockerfile: str | None = None
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    #: how RUN steps are confined (capabilities, seccomp, network)
    confinement: Confinement = field(default_factory=Confinement)
    #: `--secret` ids -> "file:PATH" or "env:NAME" (see run_mounts.parse_secret)
    secrets: dict[str, str] = field(default_factory=dict)
    proxy: bool = True
    #: fixes created times and file mtimes (reproducible image IDs)
    timestamp: int | None = None
    layers: bool = False
    no_cache: bool = False
    #: with --layers, the registry repositories the cache is pushed to and pulled from
    cache_to: str | None = None
    cache_from: str | None = None
    #: seconds: cached images created longer ago are not used (0: none is)
    cache_ttl: float | None = None
    image_format: str = "oci"
    quiet: bool = False
    keep_failed: bool = False
    pull: str = "missing"
    #: how base images are pulled (TLS, credentials, retries)
    registry: TransportOptions = field(default_factory=TransportOptions)
    #: remove each step's working container when done with it (--rm)
    remove_containers: bool = True
    #: isula-build's step lines (`STEP  3: RUN ...`, numbered across stages; no COMMIT line)
    isula_build_steps: bool = False


def parse_build_args(values: list[str]) -> dict[str, str]:
    """`--build-arg K=V` (or `K`, taking K from the environment)."""
    build_args = {}
    for value in values:
        name, equals, text = value.partition("=")
        if not name:
            raise InvalidArgument(f'--build-arg "{value}": expected NAME=VALUE')
        if equals:
            build_args[name] = text
        elif name in os.environ:
            build_args[name] = os.environ[name]
    return build_args


def parse_build_static(value: str) -> int:
    """isula-build's `--build-static build-time='YYYY-MM-DD HH:MM:SS'` as epoch seconds (UTC)."""
    key, _, when = value.partition("=")
    if key != "build-time":
        raise InvalidArgument(
            f"--build-static \"{value}\": expected build-time='YYYY-MM-DD HH:MM:SS'"
        )
    try:
        moment = datetime.datetime.strptime(when.strip("'\" "), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise InvalidArgument(
            f"--build-static \"{value}\": expected build-time='YYYY-MM-DD HH:MM:SS'"
        ) from None
    return int(moment.replace(tzinfo=datetime.UTC).timestamp())


def check_output_file(flag: str, path: str) -> None:
    """Refuse an output file that could not be written, before the build rather than after it."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise InvalidArgument(f"{flag} {path}: is a directory")
    if not os.path.isdir(directory):
        raise InvalidArgument(f"{flag} {path}: no such directory {directory}")
    # access(2) also says EROFS for a read-only mount, which root's permissions do not override
    if not os.access(directory, os.W_OK | os.X_OK):
        raise InvalidArgument(f"{flag} {path}: cannot write in {directory}")


def find_dockerfile(context_dir: str, dockerfile: str | None) -> str:
    """The Dockerfile to read: -f as given, else Dockerfile or dockerfile in the context."""
    if not os.path.isdir(context_dir):
        raise InvalidArgument(f"build context {context_dir}: not a directory")
    if dockerfile is not None:
        if not os.path.lexists(dockerfile):
            raise InvalidArgument(f"-f {dockerfile}: no such file")
        return dockerfile
    # lexists: a FIFO or a symlink out of the context is then refused by name, not skipped
    for name in DOCKERFILE_NAMES:
        candidate = os.path.join(context_dir, name)
        if os.path.lexists(candidate):
            return candidate
    raise InvalidArgument(f"no Dockerfile or dockerfile in {context_dir} (use -f)")


def platform_args() -> dict[str, str]:
    """The automatic platform ARGs of BuildKit and buildah: this machine builds for itself."""
    os_name, architecture, variant = "linux", host_architecture(), host_variant()
    platform = f"{os_name}/{architecture}" + (f"/{variant}" if variant else "")
    return {
        f"{side}{name}": value
        for side in ("TARGET", "BUILD")
        for name, value in (
            ("PLATFORM", platform),
            ("OS", os_name),
            ("ARCH", architecture),
            ("VARIANT", variant),
        )
    }


class Build:
    """One `bb build`: stages, their intermediate images and containers, the layer cache."""

    def __init__(self, store: Store, options: BuildOptions, report: Callable[[str], None]):
        check_format(options.image_format)
        if options.pull not in PULL_POLICIES:
            raise InvalidArgument(
                f'--pull "{options.pull}": must be one of {", ".join(PULL_POLICIES)}'
            )
        for tag in options.tags:
            normalize_name(tag)
        self.store = store
        self.options = options
        self.report = (lambda line: None) if options.quiet else report
        self.context_dir = os.path.abspath(options.context_dir)
        path = find_dockerfile(self.context_dir, options.dockerfile)
        self.dockerfile: Dockerfile = read_dockerfile(
            path, options.dockerfile or os.path.basename(path), self.context_dir
        )
        self.ignore: DockerIgnore | None = read_dockerignore(self.context_dir)
        self.cache = BuildCache(store) if options.layers else None
        self.remote_cache = self._remote_cache()
        self.stage_images: dict[int, str] = {}
        self.intermediate_images: set[str] = set()
        self.containers: list[WorkingContainer] = []
        self.kept_container: WorkingContainer | None = None
        self.consumed_args: set[str] = set()
        self.platform_args = platform_args()
        self.meta_args: dict[str, str] = {}
        self.valueless_meta_args: set[str] = set()
        self.steps_reported = 0
        self._read_meta_args()

    def _remote_cache(self) -> RemoteCache | None:
        options = self.options
        if options.cache_from is None and options.cache_to is None:
            return None
        # loaded only when used: the registry client is no part of a plain build's start-up
        from bb.dockerfile_executor.remote_cache import RemoteCache, parse_cache_repository

        cache_from, cache_to = (
            parse_cache_repository(flag, value) if value is not None else None
            for flag, value in (
                ("--cache-from", options.cache_from),
                ("--cache-to", options.cache_to),
            )
        )
        if not options.layers:  # buildah ignores them too, and says so in its manual only
            self.report("[Warning] --cache-from and --cache-to are ignored without --layers")
            return None
        registry = dataclasses.replace(options.registry, image_format=options.image_format)
        return RemoteCache(self.store, cache_from, cache_to, registry, self.report)

    def fresh(self, image_id: str) -> bool:
        """Whether a cached image is recent enough for --cache-ttl."""
        if self.options.cache_ttl is None:
            return True
        created = self.store.images.get(image_id).created
        try:
            when = datetime.datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            return False
        age = datetime.datetime.now(datetime.UTC) - when
        return age.total_seconds() < self.options.cache_ttl

    def report_step(self, stage_label: str, number: int, total: int, text: str) -> None:
        """Announce step `number` of a stage's `total` (buildah's numbering, or isula-build's)."""
        self.steps_reported += 1
        if self.options.isula_build_steps:
            self.report(f"STEP {self.steps_reported:2d}: {text}")
        else:
            self.report(f"{stage_label}STEP {number}/{total}: {text}")

    def _read_meta_args(self) -> None:
        for instruction in self.dockerfile.meta_args:
            env = ArgEnvironment(dict(self.meta_args), set(self.valueless_meta_args))
            for name, default in assignments(
                instruction, self.dockerfile.path, env, self.dockerfile.escape
            ):
                if name in self.options.build_args:
                    self.meta_args[name] = self.options.build_args[name]
                    self.consumed_args.add(name)
                elif default is not None:
                    self.meta_args[name] = default
                elif name in self.platform_args:
                    self.meta_args[name] = self.platform_args[name]
                else:
                    self.valueless_meta_args.add(name)

    def from_environment(self, valueless: bool = True) -> ArgEnvironment:
        """What `$NAME` means in a FROM line: the ARGs before the first FROM, and (as in BuildKit)
        the platform ARGs, declared or not; with `valueless`, a declared ARG without value is an
        error."""
        return ArgEnvironment(
            {**self.platform_args, **self.meta_args},
            set(self.valueless_meta_args) if valueless else set(),
        )

    def stage_index(self, reference: str, allow_index: bool) -> int | None:
        """The stage a FROM or --from names (by name, or by number for --from), if any."""
        lowered = reference.lower()
        for stage in self.dockerfile.stages:
            if stage.name == lowered:
                return stage.index
        if allow_index and reference.isdigit() and int(reference) < len(self.dockerfile.stages):
            return int(reference)
        return None

    def _target(self) -> int:
        if self.options.target is None:
            return len(self.dockerfile.stages) - 1
        index = self.stage_index(self.options.target, allow_index=False)
        if index is None:
            raise InvalidArgument(
                f'--target "{self.options.target}": no stage of that name in {self.dockerfile.path}'
            )
        return index

    def _dependencies(self, index: int) -> set[int]:
        """Stages the stage at `index` starts from, copies from or mounts."""
        stage = self.dockerfile.stages[index]
        references = [
            expanded_word(
                stage.from_instruction,
                self.dockerfile.path,
                stage.base,
                self.from_environment(valueless=False),
                self.dockerfile.escape,
            )
        ]
        for instruction in stage.instructions:
            source = instruction.flag("from") if instruction.keyword in ("COPY", "ADD") else None
            if source:
                references.append(
                    split_words_keeping_quotes(source)[0] if source.strip() else source
                )
            if instruction.keyword == "RUN":
                references += mounted_stages(instruction)
        found = set()
        for reference in references:
            dependency = self.stage_index(reference, allow_index=reference is not references[0])
            if dependency is not None and dependency < index:
                found.add(dependency)
        return found

    def needed_stages(self) -> list[int]:
        """The target and every stage it depends on, in Dockerfile order."""
        needed: set[int] = set()
        pending = [self._target()]
        while pending:
            index = pending.pop()
            if index not in needed:
                needed.add(index)
                pending.extend(self._dependencies(index))
        return sorted(needed)

    def failed_container_name(self) -> str:
        """A name for the container --keep-failed leaves."""
        return self.store.containers.unique_name("build-failed-working-container")

    def remove_container(self, container: WorkingContainer) -> None:
        """Remove a container this build made (unless it is the one kept for debugging)."""
        if container is self.kept_container or not self.options.remove_containers:
            return
        if container in self.containers:
            self.containers.remove(container)
        try:
            self.store.containers.remove(container.record)
        except BBError:
            pass

    def run(self) -> ImageRecord:
        """Build; return the target stage's image, named with the tags."""
        with self.store.builds_running():
            return self._build()

    def _build(self) -> ImageRecord:
        stages = self.needed_stages()
        for directive in ("syntax", "check"):
            if directive in self.dockerfile.directives:
                # as buildah: no frontend image is fetched (nor is the directive's text echoed)
                self.report(
                    f"[Warning] # {directive}= is ignored: bb's own Dockerfile frontend is used"
                )
        try:
            for number, index in enumerate(stages, start=1):
                stage = self.dockerfile.stages[index]
                self.stage_images[index] = StageBuild(self, stage, number, len(stages)).run()
        except BaseException:
            self._remove_intermediate_images(keep=None)
            raise
        finally:
            for container in list(self.containers):
                self.remove_container(container)
        final = self.store.images.get(self.stage_images[stages[-1]])
        if self.options.tags:
            final = tag_image(self.store, final.id, self.options.tags)
            if not self.options.isula_build_steps:
                self.report(f"COMMIT {', '.join(self.options.tags)}")
        self._remove_intermediate_images(keep=final.id)
        unused = sorted(set(self.options.build_args) - self.consumed_args)
        if unused:
            self.report(f"[Warning] one or more build args were not consumed: {unused}")
        return final

    def _remove_intermediate_images(self, keep: str | None) -> None:
        """Drop stage and step images made only for this build (--layers keeps them as cache)."""
        if self.options.layers:
            return
        for image_id in (self.intermediate_images | set(self.stage_images.values())) - {keep}:
            try:
                if not self.store.images.get(image_id).names:
                    remove_images(self.store, [image_id], force=False)
            except BBError:
                continue  # gone already, or the kept container still uses it
