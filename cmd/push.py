"""bb push: copy an image to a registry or any other transport location."""

import typer

from bb.archive.compression import parse_compression
from bb.cmd.common import (
    RegistryFlags,
    isula_build_mode,
    open_store,
    verb_app,
    with_registry_flags,
)
from bb.image.config import check_format
from bb.transports import export_image, split_transport

app = verb_app()


@app.command("push")
@with_registry_flags
def push(
    ctx: typer.Context,
    image: str = typer.Argument(..., help="Image name or ID."),
    destination: str | None = typer.Argument(None, help="Where to (default: docker://IMAGE)."),
    image_format: str = typer.Option(
        "oci", "-f", "--format", help="Manifest format: oci or docker."
    ),
    compression_format: str | None = typer.Option(
        None, "--compression-format", help="Layer compression: gzip (the default) or zstd."
    ),
    compression_level: int | None = typer.Option(
        None, "--compression-level", help="Compression level: gzip 1-9 (6), zstd 1-22 (3)."
    ),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print nothing."),
    *,
    registry: RegistryFlags,
) -> None:
    """Push IMAGE to DESTINATION (docker://REGISTRY/REPO:TAG, docker-archive:PATH, oci:DIR, ...)."""
    compression = parse_compression(compression_format, compression_level)
    store = open_store(ctx, repair=False)
    record = store.images.lookup(image)
    target = destination or image
    if split_transport(target) is None:
        target = f"docker://{target}"
    options = registry.options(
        quiet=quiet,
        image_format=check_format(image_format),
        compression=compression,
    )
    export_image(store, record, target, options)
    if isula_build_mode(ctx):
        print(f"Push success with image: {image}")
    elif not quiet:
        print(record.id)
