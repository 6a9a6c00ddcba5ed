"""bb pull: copy an image from a registry (or any transport location) into the store."""

import typer

from bb.cmd.common import (
    ARCH_OPTION,
    OS_OPTION,
    PLATFORM_OPTION,
    VARIANT_OPTION,
    RegistryFlags,
    isula_build_mode,
    open_store,
    verb_app,
    with_registry_flags,
)
from bb.image.platform import requested_platform
from bb.image.reference import is_qualified
from bb.transports import import_image, split_transport
from bb.working_container.container import pull_by_name

app = verb_app()


@app.command("pull")
@with_registry_flags
def pull(
    ctx: typer.Context,
    source: str = typer.Argument(
        ...,
        help="REGISTRY/REPO:TAG, a short name (see registries.toml), docker://REGISTRY/REPO:TAG, "
        "docker-archive:PATH, ...",
    ),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the image ID."),
    platform: list[str] = PLATFORM_OPTION,
    arch: str | None = ARCH_OPTION,
    os: str | None = OS_OPTION,
    variant: str | None = VARIANT_OPTION,
    *,
    registry: RegistryFlags,
) -> None:
    """Pull SOURCE into the store and print the image ID."""
    options = registry.options(
        quiet=quiet,
        platform=requested_platform(list(platform), arch, os, variant),
    )
    store = open_store(ctx)
    if split_transport(source) is None and not is_qualified(source):
        # searched for as `bb from` and FROM do
        record = pull_by_name(store, source, options)
    else:
        location = source if split_transport(source) is not None else f"docker://{source}"
        record = import_image(store, location, options)
    print(f"Pull success with image: {source}" if isula_build_mode(ctx) else record.id)
