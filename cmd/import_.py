"""bb import: make an image from a root file system tarball."""

import os

import typer

from bb.cmd.common import (
    ARCH_OPTION,
    OS_OPTION,
    PLATFORM_OPTION,
    VARIANT_OPTION,
    isula_build_mode,
    open_store,
    verb_app,
)
from bb.errors import ArchiveError
from bb.image.platform import requested_platform
from bb.store.image_io import add_image, opened_file, rootfs_config

app = verb_app()


@app.command("import")
def import_(
    ctx: typer.Context,
    tarball: str = typer.Argument(..., help="Root file system tarball (plain, gzip or xz)."),
    image: str | None = typer.Argument(None, help="Name of the new image (NAME[:TAG])."),
    platform: list[str] = PLATFORM_OPTION,
    arch: str | None = ARCH_OPTION,
    os_name: str | None = OS_OPTION,
    variant: str | None = VARIANT_OPTION,
) -> None:
    """Import TARBALL as a one-layer image and print its ID."""
    chosen = requested_platform(list(platform), arch, os_name, variant)
    if not os.path.isfile(tarball):
        raise ArchiveError(f"{tarball}: no such file")
    created_by = f"bb import {os.path.basename(tarball)}"
    record = add_image(
        open_store(ctx),
        lambda diff_ids: rootfs_config(diff_ids, created_by, platform=chosen),
        [lambda: opened_file(tarball)],
        [image] if image else [],
    )
    print(f'Import success with image id: "{record.id}"' if isula_build_mode(ctx) else record.id)
