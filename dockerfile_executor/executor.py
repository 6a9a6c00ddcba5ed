"""`bb build`: read Dockerfile and context, build the stages the target needs, name the result."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
import select
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bb.dockerfile.dockerignore import DockerIgnore, read_dockerignore
from bb.dockerfile.expand import split_words_keeping_quotes
from bb.dockerfile.instructions import assignments, expanded_word
from bb.dockerfile.parser import Dockerfile, read_dockerfile
from bb.dockerfile_executor.run_mounts import mounted_stages
from bb.dockerfile_executor.stage import ArgEnvironment, StageBuild
from bb.errors import EXIT_FAILURE, BBError, BuildStepFailed, Interrupted, InvalidArgument
from bb.image.config import check_format
from bb.image.platform import Platform
from bb.runtime.spec import Confinement
from bb.store.build_cache import BuildCache
from bb.store.images import ImageRecord, normalize_name
from bb.store.removal import remove_images, tag_image
from bb.store.store import Store
from bb.transports.base import TransportOptions
from bb.working_container.container import PULL_POLICIES, WorkingContainer, find_image

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
    #: `--ssh` ids -> agent socket paths (see ssh_agent.parse_ssh)
    ssh: dict[str, str] = field(default_factory=dict)
    #: `--build-context` names -> what they stand for
    build_contexts: dict[str, NamedContext] = field(default_factory=dict)
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
    #: the platforms asked for (--platform, --arch/--os/--variant); none: this machine's
    platforms: list[Platform] = field(default_factory=list)
    #: build for every platform the base images have (--all-platforms)
    all_platforms: bool = False
    #: the local manifest list to add each platform's image to (--manifest)
    manifest: str | None = None
    #: how many stages to build at once (0: no limit); independent stages run concurrently
    jobs: int = 1


@dataclass(frozen=True)
class NamedContext:
    """A `--build-context NAME=...` (BuildKit's and buildah's): a directory or an image."""

    #: a directory on the host, used as `COPY --from`'s and `RUN --mount from=`'s root
    directory: str | None = None
    #: an image name or ID (docker-image://), or an `oci:` location (oci-layout://)
    image: str | None = None


def parse_build_context(text: str) -> tuple[str, NamedContext]:
    """`NAME=DIR`, `NAME=docker-image://REF` (buildah's container-image:// too) or
    `NAME=oci-layout://PATH[:TAG]`."""
    name, equals, value = text.partition("=")
    name = name.strip().lower()
    if not equals or not name or not value:
        raise InvalidArgument(
            f'--build-context "{text}": expected NAME=DIR or NAME=docker-image://REF'
        )
    for prefix in ("docker-image://", "container-image://"):
        if value.startswith(prefix):
            return name, NamedContext(image=value[len(prefix) :])
    if value.startswith("oci-layout://"):
        return name, NamedContext(image="oci:" + value[len("oci-layout://") :])
    if "://" in value:
        raise InvalidArgument(
            f"--build-context {name}: only a directory, docker-image:// and oci-layout:// "
            "are supported"
        )
    if not os.path.isdir(value):
        raise InvalidArgument(f"--build-context {name}: {value} is not a directory")
    return name, NamedContext(directory=os.path.abspath(value))


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


def platform_args(target: Platform) -> dict[str, str]:
    """The automatic platform ARGs of BuildKit and buildah: TARGET* the platform built for,
    BUILD* this machine's."""
    return {
        f"{side}{name}": value
        for side, platform in (("TARGET", target), ("BUILD", Platform.host()))
        for name, value in (
            ("PLATFORM", str(platform)),
            ("OS", platform.os),
            ("ARCH", platform.architecture),
            ("VARIANT", platform.variant),
        )
    }


class Build:
    """One `bb build`: stages, their intermediate images and containers, the layer cache."""

    def __init__(
        self,
        store: Store,
        options: BuildOptions,
        report: Callable[[str], None],
        platform: Platform | None = None,
    ):
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
        #: the platform asked for (None: this machine's, not asked for: base images of any
        #: platform are taken as they are)
        self.platform = platform
        self.platform_args = platform_args(platform or Platform.host())
        self.meta_args: dict[str, str] = {}
        self.valueless_meta_args: set[str] = set()
        self.steps_reported = 0
        #: `--build-context` image references -> the stored image's ID, once resolved
        self._context_images: dict[str, str] = {}
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

    def named_context(self, reference: str) -> NamedContext | None:
        """The `--build-context` a FROM, `--from` or mount `from=` names, if any."""
        return self.options.build_contexts.get(reference.lower())

    def context_image(self, context: NamedContext) -> str:
        """The ID of a `--build-context`'s image: found in the store, or pulled or read in."""
        assert context.image is not None
        if context.image not in self._context_images:
            record = find_image(self.store, context.image, self.options.pull, self.options.registry)
            self._context_images[context.image] = record.id
        return self._context_images[context.image]

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
            # isula-build numbers steps across stages, one stage after another
            if self.options.jobs == 1 or len(stages) == 1 or self.options.isula_build_steps:
                for number, index in enumerate(stages, start=1):
                    stage = self.dockerfile.stages[index]
                    self.stage_images[index] = StageBuild(self, stage, number, len(stages)).run()
            else:
                self._build_concurrently(stages)
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

    def _build_concurrently(self, stages: list[int]) -> None:
        """Build `stages`, each as soon as the stages it uses are built, up to `jobs` at once.

        Each stage runs in a process of its own: a stage is then what it is in a build of one
        stage at a time (its own signal handling and clean-up, the store's and the pool's
        locks taken per write by whoever writes). The first failure stops the others (SIGTERM:
        each removes its containers, as for Ctrl-C) and is the build's."""
        numbers = {index: number for number, index in enumerate(stages, start=1)}
        needs = {index: self._dependencies(index) & set(stages) for index in stages}
        limit = self.options.jobs or len(stages)
        waiting = list(stages)
        running: dict[int, _StageProcess] = {}  # by the read end of its pipe
        failure: dict | None = None
        try:
            while running or (waiting and failure is None):
                for index in list(waiting):
                    if (
                        failure is None
                        and len(running) < limit
                        and needs[index] <= set(self.stage_images)
                    ):
                        waiting.remove(index)
                        child = _StageProcess.start(self, index, numbers[index], len(stages))
                        running[child.pipe] = child
                finished = _next_finished(running)
                result = finished.result()
                self.intermediate_images.update(result.get("intermediate", ()))
                self.consumed_args.update(result.get("consumed", ()))
                if "image" in result:
                    self.stage_images[finished.index] = result["image"]
                elif failure is None:
                    failure = result
                    for child in running.values():
                        child.stop()
        except BaseException:
            for child in running.values():
                child.stop()
            while running:
                _next_finished(running).result()
            raise
        if failure is not None:
            raise BuildStepFailed(failure["message"], failure["exit_code"])

    def run_stage_process(self, index: int, number: int, total: int, pipe: int) -> None:
        """In a stage's process: build it, remove its containers, report through `pipe`, exit."""
        result: dict = {}
        try:
            _die_with_parent()
            self.containers = []  # the parent's are the parent's to remove
            stage = self.dockerfile.stages[index]
            result["image"] = StageBuild(self, stage, number, total).run()
        except (BBError, Interrupted) as failure:
            result.update(message=str(failure), exit_code=failure.exit_code)
        except OSError as failure:
            where = f": {failure.filename}" if failure.filename else ""
            result.update(message=f"{failure.strerror or failure}{where}", exit_code=EXIT_FAILURE)
        except BaseException as failure:  # whatever it is, the parent reports it
            result.update(message=f"{type(failure).__name__}: {failure}", exit_code=EXIT_FAILURE)
        finally:
            try:
                for container in list(self.containers):
                    self.remove_container(container)
                result["intermediate"] = sorted(self.intermediate_images)
                result["consumed"] = sorted(self.consumed_args)
                sys.stdout.flush()
                os.write(pipe, json.dumps(result).encode())
            finally:
                os._exit(0)

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


def _die_with_parent() -> None:
    """Have the kernel SIGTERM this process if bb's main process dies (even by kill -9)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


@dataclass
class _StageProcess:
    """A stage being built in a child process, which writes its result (JSON) to `pipe`."""

    index: int
    pid: int
    pipe: int
    output: bytearray = field(default_factory=bytearray)

    @classmethod
    def start(cls, build: Build, index: int, number: int, total: int) -> _StageProcess:
        """Fork a process building stage `index`."""
        read_end, write_end = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            build.run_stage_process(index, number, total, write_end)
        os.close(write_end)
        return cls(index, pid, read_end)

    def stop(self) -> None:
        """Ask the stage to stop: it cleans up as for Ctrl-C and reports."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)

    def result(self) -> dict:
        """Once its pipe is closed: reap the process and return what it reported."""
        os.close(self.pipe)
        _, status = os.waitpid(self.pid, 0)
        try:
            return json.loads(self.output)  # type: ignore[no-any-return]
        except ValueError:
            how = (
                f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
                if os.WIFSIGNALED(status)
                else f"exit status {os.WEXITSTATUS(status)}"
            )
            return {"message": f"stage {self.index}: its process died ({how})", "exit_code": 125}


def _next_finished(running: dict[int, _StageProcess]) -> _StageProcess:
    """Wait for a stage process to finish reporting; take it out of `running`."""
    while True:
        ready, _, _ = select.select(list(running), [], [])
        for pipe in ready:
            data = os.read(pipe, 65536)
            if data:
                running[pipe].output += data
            else:
                return running.pop(pipe)
