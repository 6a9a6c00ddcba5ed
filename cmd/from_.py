"""bb from: create a working container from an image (or scratch)."""

import typer

from bb.cmd.common import (
    ARCH_OPTION,
    OS_OPTION,
    PLATFORM_OPTION,
    PULL,
    VARIANT_OPTION,
    RegistryFlags,
    open_store,
    pull_policy,
    verb_app,
    with_registry_flags,
)
from bb.image.platform import requested_platform
from bb.working_container.container import WorkingContainer

app = verb_app()


@app.command("from")
@with_registry_flags
def from_(
    ctx: typer.Context,
    image: str = typer.Argument(..., help="Image name or ID, or `scratch`."),
    name: str | None = typer.Option(None, "--name", help="Name of the working container."),
    pull: str = PULL,
    quiet: bool = typer.Option(
        False, "-q", "--quiet", help="Print nothing but the container name."
    ),
    platform: list[str] = PLATFORM_OPTION,
    arch: str | None = ARCH_OPTION,
    os: str | None = OS_OPTION,
    variant: str | None = VARIANT_OPTION,
    *,
    registry: RegistryFlags,
) -> None:
    """Create a working container from IMAGE and print its name."""
    options = registry.options(quiet=quiet)
    container = WorkingContainer.create(
        open_store(ctx),
        image,
        name=name,
        pull=pull_policy(pull),
        options=options,
        platform=requested_platform(list(platform), arch, os, variant),
    )
    print(container.name)
