"""bb pull: copy an image from a registry (or any transport location) into the store."""

import typer

from bb.cmd.common import (
    ARCH_OPTION,
    AUTHFILE,
    CERT_DIR,
    CREDS,
    OS_OPTION,
    PLATFORM_OPTION,
    RETRY,
    RETRY_DELAY,
    TLS_VERIFY,
    VARIANT_OPTION,
    isula_build_mode,
    open_store,
    registry_options,
    verb_app,
)
from bb.image.platform import requested_platform
from bb.image.reference import is_qualified
from bb.transports import import_image, split_transport
from bb.working_container.container import pull_by_name

app = verb_app()


@app.command("pull")
def pull(
    ctx: typer.Context,
    source: str = typer.Argument(
        ...,
        help="REGISTRY/REPO:TAG, a short name (see registries.toml), docker://REGISTRY/REPO:TAG, "
        "docker-archive:PATH, ...",
    ),
    tls_verify: bool | None = TLS_VERIFY,
    authfile: str | None = AUTHFILE,
    creds: str | None = CREDS,
    cert_dir: str | None = CERT_DIR,
    retry: int = RETRY,
    retry_delay: str = RETRY_DELAY,
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the image ID."),
    platform: list[str] = PLATFORM_OPTION,
    arch: str | None = ARCH_OPTION,
    os: str | None = OS_OPTION,
    variant: str | None = VARIANT_OPTION,
) -> None:
    """Pull SOURCE into the store and print the image ID."""
    options = registry_options(
        tls_verify,
        authfile,
        creds,
        cert_dir,
        retry,
        retry_delay,
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
