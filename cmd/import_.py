"""bb import: make an image from a root file system tarball."""

import os

import typer

from bb.cmd.common import isula_build_mode, open_store, verb_app
from bb.errors import ArchiveError
from bb.store.image_io import add_image, opened_file, rootfs_config

app = verb_app()


@app.command("import")
def import_(
    ctx: typer.Context,
    tarball: str = typer.Argument(..., help="Root file system tarball (plain, gzip or xz)."),
    image: str | None = typer.Argument(None, help="Name of the new image (NAME[:TAG])."),
) -> None:
    """Import TARBALL as a one-layer image and print its ID."""
    if not os.path.isfile(tarball):
        raise ArchiveError(f"{tarball}: no such file")
    created_by = f"bb import {os.path.basename(tarball)}"
    record = add_image(
        open_store(ctx),
        lambda diff_ids: rootfs_config(diff_ids, created_by),
        [lambda: opened_file(tarball)],
        [image] if image else [],
    )
    print(f'Import success with image id: "{record.id}"' if isula_build_mode(ctx) else record.id)
