"""`bb build --platform P1,P2 --manifest NAME`: one build per platform, gathered in a local list.

As in buildah, each platform is built in turn (RUN steps of another architecture run through
qemu-user; see bb.system.host.check_emulation) and, with `--manifest`, its image replaces the
list's entry for that platform; the list is made if missing.
"""

from __future__ import annotations

from collections.abc import Callable

from bb.dockerfile.instructions import expanded_word
from bb.dockerfile_executor.executor import Build, BuildOptions
from bb.errors import BBError, InvalidArgument
from bb.image.platform import Platform
from bb.image.reference import is_qualified, parse_reference
from bb.store.images import ImageRecord, normalize_name
from bb.store.manifest_lists import ManifestListStore
from bb.store.store import Store
from bb.working_container.container import SCRATCH


def build_platforms(
    store: Store, options: BuildOptions, report: Callable[[str], None]
) -> list[tuple[Platform | None, ImageRecord]]:
    """Build for each platform asked for (this machine's if none); return each platform's image."""
    if options.manifest is not None:
        normalize_name(options.manifest)  # a bad name fails before the build, not after it
    platforms: list[Platform | None] = list(options.platforms) or [None]
    if options.all_platforms:
        if options.platforms:
            raise InvalidArgument("give --platform or --all-platforms, not both")
        platforms = list(base_platforms(Build(store, options, report)))
    several = len(platforms) > 1
    if several and options.manifest is None:
        raise InvalidArgument(
            f"building for {len(platforms)} platforms needs --manifest NAME to gather the images"
        )
    if several and options.tags:
        raise InvalidArgument("-t names one image: with several platforms, name the --manifest")
    built = []
    for platform in platforms:
        prefix = f"[{platform}] " if several else ""
        image = Build(store, options, lambda line: report(prefix + line), platform).run()
        if options.manifest is not None:
            _add_to_list(store, options.manifest, image)
        built.append((platform, image))
    return built


def _add_to_list(store: Store, name: str, image: ImageRecord) -> None:
    lists = ManifestListStore(store)
    with store.lock():
        manifest_list = lists.find(name) or lists.create(name)
        manifest_list.put(lists.entry_for(image))
        lists.save(manifest_list)


def base_platforms(build: Build) -> list[Platform]:
    """`--all-platforms`: the platforms every base image the target needs is there for (stages
    and scratch aside), in the first base's order."""
    common: list[Platform] | None = None
    for index in build.needed_stages():
        stage = build.dockerfile.stages[index]
        base = expanded_word(
            stage.from_instruction,
            build.dockerfile.path,
            stage.base,
            build.from_environment(valueless=False),
            build.dockerfile.escape,
        )
        if base.lower() == SCRATCH or build.stage_index(base, allow_index=False) is not None:
            continue
        found = image_platforms(build.store, base)
        common = found if common is None else [p for p in common if p in found]
    if not common:
        raise InvalidArgument(
            "--all-platforms: the base images have no platform in common"
            if common is not None
            else "--all-platforms: no base image (only scratch) to take platforms from"
        )
    return common


def image_platforms(store: Store, name: str) -> list[Platform]:
    """The platforms an image name is there for: a local manifest list's, else the registry's
    list (or image), else the local image's."""
    from bb.transports.base import TransportOptions
    from bb.transports.registry.pull import listed_platforms

    manifest_list = ManifestListStore(store).find(name)
    if manifest_list is not None:
        return list(dict.fromkeys(entry.platform for entry in manifest_list.entries))
    local = store.images.find(name)
    try:
        if not is_qualified(name):
            raise InvalidArgument(f'"{name}" names no registry')
        return listed_platforms(parse_reference(name), TransportOptions())
    except BBError:
        if local is None:
            raise
        return [Platform.of_document(store.images.config(local))]
