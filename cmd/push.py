"""bb push: copy an image to a registry or any other transport location."""

import typer

from bb.archive.compression import parse_compression
from bb.cmd.common import (
    AUTHFILE,
    CERT_DIR,
    CREDS,
    RETRY,
    RETRY_DELAY,
    TLS_VERIFY,
    isula_build_mode,
    open_store,
    registry_options,
    verb_app,
)
from bb.image.config import check_format
from bb.transports import export_image, split_transport

app = verb_app()


@app.command("push")
def push(
    ctx: typer.Context,
    image: str = typer.Argument(..., help="Image name or ID."),
    destination: str | None = typer.Argument(None, help="Where to (default: docker://IMAGE)."),
    tls_verify: bool | None = TLS_VERIFY,
    authfile: str | None = AUTHFILE,
    creds: str | None = CREDS,
    cert_dir: str | None = CERT_DIR,
    retry: int = RETRY,
    retry_delay: str = RETRY_DELAY,
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
) -> None:
    """Push IMAGE to DESTINATION (docker://REGISTRY/REPO:TAG, docker-archive:PATH, oci:DIR, ...)."""
    compression = parse_compression(compression_format, compression_level)
    store = open_store(ctx, repair=False)
    record = store.images.lookup(image)
    target = destination or image
    if split_transport(target) is None:
        target = f"docker://{target}"
    options = registry_options(
        tls_verify,
        authfile,
        creds,
        cert_dir,
        retry,
        retry_delay,
        quiet=quiet,
        image_format=check_format(image_format),
        compression=compression,
    )
    export_image(store, record, target, options)
    if isula_build_mode(ctx):
        print(f"Push success with image: {image}")
    elif not quiet:
        print(record.id)
