"""One build stage: FROM, then each instruction as the working-container step a script would take.

With the layer cache (`--layers`) every RUN/COPY/ADD is committed and its
key remembered; while steps hit the cache no container exists at all, and
config-only instructions just edit the config kept here. The first miss
creates a container from the last cached image and carries on from there.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
import posixpath
import tempfile
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from bb.dockerfile.dockerignore import DockerIgnore
from bb.dockerfile.expand import ExpansionError, nameable
from bb.dockerfile.instructions import (
    assignments,
    expanded_heredoc,
    expanded_word,
    expanded_words,
    parse_healthcheck,
)
from bb.dockerfile.parser import Instruction, Stage, parse_instruction
from bb.dockerfile_executor.cache_keys import chain_key, sources_digest
from bb.dockerfile_executor.remote_sources import clone, download, is_git, is_remote
from bb.dockerfile_executor.run_mounts import mounts_key, parse_mounts, ssh_auth_sock, step_mounts
from bb.errors import (
    BBError,
    BuildStepFailed,
    DockerfileError,
    Interrupted,
    InvalidArgument,
    RunFailed,
)
from bb.image.config import new_image_config
from bb.image.healthcheck import OPTION_NAMES
from bb.image.platform import Platform, parse_platform
from bb.runtime.spec import NETWORK_MODES
from bb.store.images import ImageRecord
from bb.working_container.commit import CommitOptions, commit_step
from bb.working_container.configuration import ImageConfig
from bb.working_container.container import SCRATCH, WorkingContainer, find_image, fits
from bb.working_container.copy import CopyOptions, copy_step
from bb.working_container.run import (
    DEFAULT_PATH,
    RunOptions,
    lexical_path,
    make_directory,
    run_step,
)

if TYPE_CHECKING:
    from bb.dockerfile_executor.executor import Build

# Build arguments every Dockerfile may use without declaring them; they reach
# RUN steps but never the image, nor the cache key.
PROXY_ARGS = (
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
)
SUPPORTED_FLAGS = {
    "FROM": {"platform"},
    "RUN": {"network", "mount"},
    "COPY": {"from", "chown", "chmod", "link", "parents", "exclude"},
    "ADD": {"chown", "chmod", "link", "checksum", "exclude", "keep-git-dir"},
    "HEALTHCHECK": OPTION_NAMES,
}


class ArgEnvironment(Mapping[str, str]):
    """Values for variable expansion: declared ARGs and ENV; a valueless ARG may not be used."""

    def __init__(self, values: dict[str, str], valueless: set[str]):
        self.known = values
        self.valueless = valueless

    def __getitem__(self, name: str) -> str:
        if name in self.valueless:
            if not nameable(name):  # errors never quote the Dockerfile's free text
                raise ExpansionError(
                    "an ARG without a value is used: give it a default or pass --build-arg"
                )
            raise ExpansionError(
                f"ARG {name} has no value: give it a default or pass --build-arg {name}=VALUE"
            )
        return self.known[name]

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        """The value, or `default` when unset (or declared without a value)."""
        return self.known.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.known)

    def __len__(self) -> int:
        return len(self.known)


class StageBuild:
    """Builds one stage into an image."""

    def __init__(self, build: Build, stage: Stage, number: int, total: int):
        self.build = build
        self.stage = stage
        self.store = build.store
        self.path = build.dockerfile.path
        self.escape = build.dockerfile.escape
        self.label = f"[{number}/{total}] " if total > 1 else ""
        self.args: dict[str, str] = {}
        self.valueless: set[str] = set()
        self.container: WorkingContainer | None = None
        self._container_lock = contextlib.ExitStack()
        self.image_id: str | None = None
        self.image_config: dict[str, Any] = new_image_config()
        self.history: list[dict[str, Any]] = []
        # WORKDIRs (path, USER) to make when the next container exists
        self.pending_directories: list[tuple[str, str | None]] = []
        self.key = ""
        self.cmd_set = False

    # --- state --------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The runtime config being built (read it; change it through `self.image`)."""
        return self.image.config

    @property
    def image(self) -> ImageConfig:
        """The setters of the image config being built."""
        return ImageConfig(self.image_config)

    def environment(self) -> ArgEnvironment:
        """What `$NAME` means now: ARG values, overridden by ENV."""
        env = {
            entry.partition("=")[0]: entry.partition("=")[2]
            for entry in self.config.get("Env") or []
        }
        return ArgEnvironment({**self.args, **env}, self.valueless - set(env))

    def _adopt(self, container: WorkingContainer) -> WorkingContainer:
        """Make `container` carry this stage's config, history and pending directories."""
        self._container_lock.enter_context(WorkingContainer.opened(self.store, container.id))
        container.record.builder["image_config"] = self.image_config
        container.pending_history.extend(self.history)
        self.history = container.pending_history
        if self.pending_directories:
            with container.mounted() as rootfs:
                for path, user in self.pending_directories:
                    make_directory(rootfs, path, user)
            self.pending_directories = []
        container.save()
        self.container = container
        self.build.containers.append(container)
        return container

    def working_container(self) -> WorkingContainer:
        """The container, created from the last committed image when there is none."""
        if self.container is None:
            self._adopt(WorkingContainer.create(self.store, self.image_id or SCRATCH, pull="never"))
        assert self.container is not None
        return self.container

    def _drop_container(self) -> None:
        if self.container is not None:
            container, self.container = self.container, None
            self._container_lock.close()
            self._container_lock = contextlib.ExitStack()
            self.build.remove_container(container)

    def _follow(self, image_id: str) -> None:
        """Continue from a committed (or cached) image."""
        self.image_id = image_id
        self.image_config = copy.deepcopy(self.store.images.config(self.store.images.get(image_id)))
        self.history = []
        self.pending_directories = []

    def _commit(self) -> ImageRecord:
        container = self.working_container()
        options = CommitOptions(
            image_format=self.build.options.image_format,
            timestamp=self.build.options.timestamp,
            discard_container=self.build.options.remove_containers,
        )
        image = commit_step(container, options)
        self._drop_container()
        self._follow(image.id)
        self.build.intermediate_images.add(image.id)
        if self.build.cache is not None:
            self.build.cache.remember(self.key, image.id)
            if self.build.remote_cache is not None:
                self.build.remote_cache.push(self.key, image.id)
        return image

    def _from_cache(self) -> str | None:
        """The image cached for the current key (unless --no-cache, or older than --cache-ttl):
        this store's, else one pulled with --cache-from; pushed with --cache-to unless pulled,
        as buildah does."""
        cache, remote = self.build.cache, self.build.remote_cache
        if cache is None or self.build.options.no_cache:
            return None
        found = cache.lookup(self.key)
        if found is not None and self.build.fresh(found):
            if remote is not None:
                remote.push(self.key, found)
        elif remote is not None:
            found = remote.pull(self.key, self.image_id)
            if found is None or not self.build.fresh(found):
                return None
            cache.remember(self.key, found)
        else:
            return None
        self.build.report(f"--> Using cache {found}")
        return found

    def _record(self, instruction: Instruction) -> None:
        """History entry of a config-only step.

        The container record is saved by the next step that touches the rootfs, or the commit:
        saving it here would make a Dockerfile of n config steps cost O(n²)."""
        self.history.append({"created_by": instruction.original, "empty_layer": True})

    # --- running ----------------------------------------------------------------

    def run(self) -> str:
        """Build the stage; return its image ID."""
        triggers = self._start()
        steps = [*triggers, *self.stage.instructions]
        total = len(steps) + 1
        self.build.report_step(self.label, 1, total, self.stage.from_instruction.original)
        try:
            for number, instruction in enumerate(steps, start=2):
                self.build.report_step(self.label, number, total, instruction.original)
                self._step(instruction)
            return self._finish()
        except BBError:
            if self.build.options.keep_failed and self.container is not None:
                raise
            self._drop_container()
            raise
        finally:
            self._container_lock.close()

    def _start(self) -> list[Instruction]:
        """FROM: pick the base; return the base image's ONBUILD triggers to run first."""
        instruction = self.stage.from_instruction
        self._check_flags(instruction)
        base = expanded_word(
            instruction, self.path, self.stage.base, self.build.from_environment(), self.escape
        )
        platform = self._platform(instruction)
        stage_index = self.build.stage_index(base, allow_index=False)
        from_stage = stage_index is not None and stage_index < self.stage.index
        named = self.build.named_context(base)
        base_directory = None
        if stage_index is not None and from_stage:
            base = self.build.stage_images[stage_index]
        elif named is not None and named.directory is not None:
            # BuildKit's FROM a local context: a stage holding just its files
            base, base_directory = SCRATCH, named.directory
        elif named is not None:
            try:
                base = self.build.context_image(named)
            except BBError as failure:
                raise DockerfileError(self.path, instruction.line, f"FROM: {failure}") from None
        base_id = None
        if base.lower() == SCRATCH:
            self.image_config = new_image_config(platform)
        else:
            record = self.store.images.find(base)
            if record is not None and not from_stage and not fits(self.store, record, platform):
                record = None  # another platform's image: pulled for this one, or refused
            pulls = not from_stage and self.build.options.pull in ("always", "newer")
            if record is None or pulls:
                # only pulled here: with --layers a container is made at the first step the
                # cache does not have
                try:
                    record = find_image(
                        self.store,
                        base,
                        self.build.options.pull,
                        self.build.options.registry,
                        platform,
                    )
                except BBError as failure:
                    raise DockerfileError(self.path, instruction.line, f"FROM: {failure}") from None
                assert record is not None
            base_id = record.id
            self.image_config = copy.deepcopy(self.store.images.config(record))
        if "PATH" not in self.image.env():
            # as buildah bud and docker do: a base without PATH (scratch, an imported rootfs)
            # gets the default
            self.image.set_env([f"PATH={DEFAULT_PATH}"])
        self.image_id = base_id
        # a scratch stage's config says its platform, so the cache must tell them apart
        self.key = chain_key("", base_id or (f"{SCRATCH} {platform}" if platform else SCRATCH))
        triggers = self.image.take_onbuild()
        parsed = []
        for text in triggers:
            parsed.append(
                parse_instruction(
                    text, f"{self.path} (ONBUILD of {base})", instruction.line, self.escape
                )
            )
        if base_directory is not None:
            self._copy_directory(instruction, base_directory)
        if not self.build.options.layers and self.container is None:
            self.working_container()
        return parsed

    def _platform(self, instruction: Instruction) -> Platform | None:
        """The stage's platform: FROM --platform's, else the build's (None: not asked for)."""
        text = instruction.flag("platform")
        if not text:
            return self.build.platform
        value = expanded_word(
            instruction, self.path, text, self.build.from_environment(), self.escape
        )
        try:
            return parse_platform(value, "FROM --platform")
        except InvalidArgument:
            # not quoting the value: errors never echo what the Dockerfile holds
            raise DockerfileError(
                self.path, instruction.line, "FROM --platform: expected OS/ARCH[/VARIANT]"
            ) from None

    def _copy_directory(self, instruction: Instruction, directory: str) -> None:
        """A directory's files (their owners kept) as the stage's first layer."""
        options = CopyOptions(
            sources=["."],
            destination="/",
            source_root=directory,
            keep_owners=True,
            created_by=instruction.original,
            timestamp=self.build.options.timestamp,
        )
        content_key = sources_digest(options) if self.build.cache is not None else ""
        self._filesystem_step(
            instruction,
            ["FROM", "directory", content_key],
            lambda container: copy_step(container, options),
        )

    def _step(self, instruction: Instruction) -> None:
        self._check_flags(instruction)
        try:
            INSTRUCTION_STEPS[instruction.keyword](self, instruction)
        except (DockerfileError, BuildStepFailed):
            raise
        except RunFailed as failure:
            message = f"{self.path}:{instruction.line}: {instruction.keyword}: {failure}"
            raise BuildStepFailed(self._kept(message), failure.exit_code) from None
        except BBError as failure:
            raise DockerfileError(
                self.path, instruction.line, self._kept(f"{instruction.keyword}: {failure}")
            ) from None
        except Interrupted as stop:
            message = f"{self.path}:{instruction.line}: {instruction.keyword}: {stop}"
            raise Interrupted(stop.signal_number, self._kept(message)) from None

    def _kept(self, message: str) -> str:
        """With --keep-failed: keep a container as it was before the failed step, and say so."""
        if not self.build.options.keep_failed:
            return message
        self._drop_container()
        container = self._adopt(
            WorkingContainer.create(
                self.store,
                self.image_id or SCRATCH,
                name=self.build.failed_container_name(),
                pull="never",
            )
        )
        self.build.kept_container = container
        return (
            f"{message} (kept the container before this step as {container.name}: "
            f"bb run -t {container.name} -- sh)"
        )

    def _check_flags(self, instruction: Instruction) -> None:
        allowed = SUPPORTED_FLAGS.get(instruction.keyword, set())
        for name, value in instruction.flags:
            if name not in allowed:
                unsupported = (
                    f"{instruction.keyword} --{name} is not supported"
                    if nameable(name)
                    else f"{instruction.keyword}: an option is not supported"
                )
                raise DockerfileError(self.path, instruction.line, unsupported)
            if name == "network" and value not in ("default", *NETWORK_MODES):
                raise DockerfileError(
                    self.path,
                    instruction.line,
                    "RUN --network: expected default, host or none",
                )

    def _boolean_flag(self, instruction: Instruction, name: str) -> bool:
        """A flag such as `--parents` or `--parents=false` (BuildKit's booleans)."""
        if not any(flag_name == name for flag_name, _ in instruction.flags):
            return False
        value = (instruction.flag(name) or "true").lower()
        if value not in ("true", "false"):
            raise DockerfileError(
                self.path,
                instruction.line,
                f"{instruction.keyword} --{name}: expected true or false",
            )
        return value == "true"

    def _finish(self) -> str:
        self.key = chain_key(self.key, "END")
        if (
            self.container is None
            and self.image_id is not None
            and not self.history
            and not self.pending_directories
        ):
            return self.image_id
        if self.container is None:
            cached = self._from_cache()
            if cached is not None:
                return cached
        return self._commit().id

    def _filesystem_step(
        self,
        instruction: Instruction,
        key_parts: list[str],
        action: Callable[[WorkingContainer], None],
    ) -> None:
        """RUN, COPY, ADD: use the cache, or do it in the container (and commit with --layers)."""
        self.key = chain_key(self.key, *key_parts)
        if self.container is None:
            cached = self._from_cache()
            if cached is not None:
                self._follow(cached)
                return
        if self.build.options.keep_failed and self.container is None:
            self.working_container()
        action(self.working_container())
        if self.build.options.layers or self.build.options.keep_failed:
            self._commit()

    def _config_step(self, instruction: Instruction, key_text: str) -> None:
        """Bookkeeping after a config-only instruction changed the config."""
        self.key = chain_key(self.key, instruction.keyword, key_text)
        self._record(instruction)

    # --- instructions -----------------------------------------------------------

    def _arg(self, instruction: Instruction) -> None:
        for name, default in assignments(instruction, self.path, self.environment(), self.escape):
            if name in self.build.options.build_args:
                value: str | None = self.build.options.build_args[name]
                self.build.consumed_args.add(name)
            elif default is not None:
                value = default
            else:
                value = self.build.meta_args.get(name, self.build.platform_args.get(name))
            if value is None:
                self.valueless.add(name)
                self.args.pop(name, None)
            else:
                self.valueless.discard(name)
                self.args[name] = value
            self.key = chain_key(self.key, "ARG", name, value or "")

    def _env(self, instruction: Instruction) -> None:
        pairs = assignments(instruction, self.path, self.environment(), self.escape)
        self.image.set_env([f"{key}={value or ''}" for key, value in pairs], flag="ENV")
        self._config_step(instruction, json.dumps(pairs))

    def _label(self, instruction: Instruction) -> None:
        pairs = assignments(instruction, self.path, self.environment(), self.escape)
        self.image.set_labels([f"{key}={value or ''}" for key, value in pairs], flag="LABEL")
        self._config_step(instruction, json.dumps(pairs))

    def _maintainer(self, instruction: Instruction) -> None:
        self.image.set_author(instruction.arguments)
        self._config_step(instruction, instruction.arguments)

    def _expose(self, instruction: Instruction) -> None:
        ports = expanded_words(instruction, self.path, self.environment(), self.escape)
        self.image.set_ports(ports, flag="port")
        self._config_step(instruction, json.dumps(ports))

    def _volume(self, instruction: Instruction) -> None:
        volumes = expanded_words(instruction, self.path, self.environment(), self.escape)
        self.image.set_volumes(volumes, flag="volume")
        self._config_step(instruction, json.dumps(volumes))

    def _user(self, instruction: Instruction) -> None:
        user = expanded_word(
            instruction, self.path, instruction.arguments, self.environment(), self.escape
        )
        self.image.set_user(user)
        self._config_step(instruction, user)

    def _stopsignal(self, instruction: Instruction) -> None:
        signal = expanded_word(
            instruction, self.path, instruction.arguments, self.environment(), self.escape
        )
        self.image.set_stop_signal(signal, flag="signal")
        self._config_step(instruction, signal)

    def _workdir(self, instruction: Instruction) -> None:
        path = expanded_word(
            instruction, self.path, instruction.arguments, self.environment(), self.escape
        )
        if not path.startswith("/"):
            # as buildah and docker: a relative WORKDIR is joined and cleaned, an absolute one
            # kept as written
            path = posixpath.normpath(posixpath.join(self.config.get("WorkingDir") or "/", path))
        self.image.set_workdir(path)
        # made owned by the USER of the moment, as buildah and BuildKit do
        directory = (lexical_path(path), self.config.get("User"))
        if self.container is not None:
            with self.container.mounted() as rootfs:
                make_directory(rootfs, *directory)
        else:
            self.pending_directories.append(directory)
        self._config_step(instruction, path)

    def _command(self, instruction: Instruction) -> list[str]:
        """The argv of an exec-form or shell-form CMD, ENTRYPOINT or RUN."""
        if instruction.json_arguments is not None:
            return instruction.json_arguments
        return self.image.shell_form(instruction.arguments)

    def _cmd(self, instruction: Instruction) -> None:
        command = self._command(instruction)
        self.image.set_cmd(command)
        self.cmd_set = True
        self._config_step(instruction, json.dumps(command))

    def _entrypoint(self, instruction: Instruction) -> None:
        command = self._command(instruction)
        self.image.set_entrypoint(command)
        # Docker's rule: a new ENTRYPOINT drops a CMD inherited from the base image.
        if not self.cmd_set:
            self.image.set_cmd(None)
        self._config_step(instruction, json.dumps(command))

    def _shell(self, instruction: Instruction) -> None:
        self.image.set_shell(instruction.json_arguments)
        self._config_step(instruction, json.dumps(instruction.json_arguments))

    def _healthcheck(self, instruction: Instruction) -> None:
        check = parse_healthcheck(instruction, self.path)
        self.image.set_healthcheck(check)
        self._config_step(instruction, json.dumps(check))

    def _onbuild(self, instruction: Instruction) -> None:
        self.image.add_onbuild([instruction.arguments])
        self._config_step(instruction, instruction.arguments)

    def _run(self, instruction: Instruction) -> None:
        if instruction.json_arguments is not None:
            command = instruction.json_arguments
        else:
            script = instruction.arguments
            if (
                instruction.heredocs
                and not instruction.text_without_heredocs
                and len(instruction.heredocs) == 1
            ):
                script = instruction.heredocs[0].content
            elif instruction.heredocs:
                # the shell itself reads the heredocs, exactly as written
                script += "\n" + "".join(
                    heredoc.content + heredoc.name + "\n" for heredoc in instruction.heredocs
                )
            command = self.image.shell_form(script)
        env_names = {entry.partition("=")[0] for entry in self.config.get("Env") or []}
        build_env = [
            f"{name}={value}" for name, value in self.args.items() if name not in env_names
        ]
        proxies = []
        if self.build.options.proxy:
            proxies = [
                f"{name}={os.environ[name]}"
                for name in PROXY_ARGS
                if name in os.environ and name not in self.args and name not in env_names
            ]
        proxies += [
            f"{name}={value}"
            for name, value in self.build.options.build_args.items()
            if name in PROXY_ARGS and name not in self.args
        ]
        self.build.consumed_args.update(
            name for name in self.build.options.build_args if name in PROXY_ARGS
        )
        confinement = self.build.options.confinement
        network = instruction.flag("network") or "default"
        if network != "default":
            # the step's own network (BuildKit's RUN --network) over the build's --network
            confinement = dataclasses.replace(confinement, network=network)
        env = self.environment()
        try:
            requests = parse_mounts(
                [
                    expanded_word(instruction, self.path, value or "", env, self.escape)
                    for name, value in instruction.flags
                    if name == "mount"
                ]
            )
        except InvalidArgument as failure:
            raise DockerfileError(self.path, instruction.line, f"RUN {failure}") from None
        agent = ssh_auth_sock(self.build, requests)
        options = RunOptions(
            command=command,
            env=build_env + proxies + ([f"SSH_AUTH_SOCK={agent}"] if agent else []),
            confinement=confinement,
            created_by=instruction.original,
            discard_output=self.build.options.quiet,
        )

        def run(container: WorkingContainer) -> None:
            workdir = lexical_path(self.config.get("WorkingDir") or "/")
            with step_mounts(self.build, requests, self.build.stage_images, workdir) as mounts:
                run_step(container, dataclasses.replace(options, mounts=mounts))

        self._filesystem_step(
            instruction,
            ["RUN", json.dumps(command), json.dumps(sorted(build_env))]
            + ([f"network={network}"] if network != "default" else [])
            + [
                mounts_key(self.build, requests, self.build.stage_images)
                if self.build.cache is not None
                else ""
            ],
            run,
        )

    def _copy(self, instruction: Instruction) -> None:
        env = self.environment()
        words = expanded_words(instruction, self.path, env, self.escape)
        chown = instruction.flag("chown")
        chmod = instruction.flag("chmod")
        options = CopyOptions(
            sources=words[:-1],
            destination=words[-1],
            chown=expanded_word(instruction, self.path, chown, env, self.escape) if chown else None,
            chmod=expanded_word(instruction, self.path, chmod, env, self.escape) if chmod else None,
            extract_archives=instruction.keyword == "ADD",
            created_by=instruction.original,
            verb=instruction.keyword,
            timestamp=self.build.options.timestamp,
            parents=self._boolean_flag(instruction, "parents"),
        )
        excludes = [
            expanded_word(instruction, self.path, value or "", env, self.escape)
            for name, value in instruction.flags
            if name == "exclude"
        ]
        if excludes:
            try:
                # BuildKit matches --exclude as .dockerignore patterns, below each source
                options.exclude = DockerIgnore(excludes)
            except DockerfileError:
                raise DockerfileError(
                    self.path, instruction.line, f"{instruction.keyword} --exclude: a bad pattern"
                ) from None
        git = [source for source in options.sources if is_git(source)]
        remote = [source for source in options.sources if is_remote(source) and source not in git]
        checksum = instruction.flag("checksum")
        if instruction.keyword == "ADD" and git and len(options.sources) > 1:
            raise DockerfileError(
                self.path, instruction.line, "ADD: a git repository must be the only source"
            )
        if (
            instruction.keyword == "ADD"
            and (remote or checksum)
            and len(remote) != len(options.sources)
        ):
            raise DockerfileError(
                self.path,
                instruction.line,
                "ADD: URLs and local sources in one ADD (or --checksum without a URL) "
                "are not supported",
            )
        with contextlib.ExitStack() as stack:
            from_source = instruction.flag("from")
            if instruction.keyword == "ADD" and git:
                directory = stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="bb-add-", dir=self.store.temp_dir)
                )
                keep_git_dir = self._boolean_flag(instruction, "keep-git-dir")
                options.source_root, commit = clone(git[0], directory, keep_git_dir)
                options.sources = ["."]
                options.extract_archives = False
                content_key = json.dumps([git[0], commit, keep_git_dir])
            elif instruction.keyword == "ADD" and remote:
                directory = stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="bb-add-", dir=self.store.temp_dir)
                )
                options.sources = [download(url, directory, checksum) for url in remote]
                options.source_root = directory
                options.extract_archives = False  # docker's rule: a download is never unpacked
                content_key = json.dumps([remote, sources_digest(options)])
            elif instruction.heredocs:
                directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="bb-heredoc-"))
                options.sources = []
                for heredoc in instruction.heredocs:
                    content = heredoc.content
                    if heredoc.expand:
                        content = expanded_heredoc(
                            instruction, self.path, content, env, self.escape
                        )
                    with open(
                        os.path.join(directory, heredoc.name), "w", encoding="utf-8"
                    ) as written:
                        written.write(content)
                    os.chmod(os.path.join(directory, heredoc.name), 0o644)
                    options.sources.append(heredoc.name)
                options.source_root = directory
                content_key = json.dumps(
                    [[h.name, h.content, h.expand] for h in instruction.heredocs]
                )
            elif from_source:
                source = expanded_word(instruction, self.path, from_source, env, self.escape)
                index = self.build.stage_index(source, allow_index=True)
                named = self.build.named_context(source)
                if index is not None and index in self.build.stage_images:
                    options.from_source = self.build.stage_images[index]
                elif named is not None and named.directory is not None:
                    # as buildah: what comes from a named context keeps its owners
                    options.source_root = named.directory
                    options.keep_owners = True
                elif named is not None:
                    options.from_source = self.build.context_image(named)
                elif self.store.images.find(source) is not None:
                    options.from_source = self.store.images.lookup(source).id
                else:
                    raise DockerfileError(
                        self.path,
                        instruction.line,
                        f"{instruction.keyword} --from={source}: "
                        "no stage, build context or image of that name",
                    )
                if options.from_source is not None:
                    content_key = options.from_source
                else:
                    content_key = sources_digest(options) if self.build.cache is not None else ""
            else:
                options.source_root = self.build.context_dir
                options.source_filter = self.build.ignore
                # hashing the sources is for the layer cache only
                content_key = sources_digest(options) if self.build.cache is not None else ""
            key = [
                instruction.keyword,
                json.dumps(
                    [
                        options.sources,
                        options.destination,
                        options.chown,
                        options.chmod,
                        options.parents,
                        excludes,
                    ]
                ),
                content_key,
            ]
            self._filesystem_step(instruction, key, lambda container: copy_step(container, options))


# Each instruction after FROM (which starts the stage) and the step that executes it.
INSTRUCTION_STEPS: dict[str, Callable[[StageBuild, Instruction], None]] = {
    "ADD": StageBuild._copy,
    "ARG": StageBuild._arg,
    "CMD": StageBuild._cmd,
    "COPY": StageBuild._copy,
    "ENTRYPOINT": StageBuild._entrypoint,
    "ENV": StageBuild._env,
    "EXPOSE": StageBuild._expose,
    "HEALTHCHECK": StageBuild._healthcheck,
    "LABEL": StageBuild._label,
    "MAINTAINER": StageBuild._maintainer,
    "ONBUILD": StageBuild._onbuild,
    "RUN": StageBuild._run,
    "SHELL": StageBuild._shell,
    "STOPSIGNAL": StageBuild._stopsignal,
    "USER": StageBuild._user,
    "VOLUME": StageBuild._volume,
    "WORKDIR": StageBuild._workdir,
}
