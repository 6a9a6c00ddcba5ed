"""bb from: create a working container from an image (or scratch)."""

import typer

from bb.cmd.common import (
    ARCH_OPTION,
    AUTHFILE,
    CERT_DIR,
    CREDS,
    OS_OPTION,
    PLATFORM_OPTION,
    PULL,
    RETRY,
    RETRY_DELAY,
    TLS_VERIFY,
    VARIANT_OPTION,
    open_store,
    pull_policy,
    registry_options,
    verb_app,
)
from bb.image.platform import requested_platform
from bb.working_container.container import WorkingContainer

app = verb_app()


@app.command("from")
def from_(
    ctx: typer.Context,
    image: str = typer.Argument(..., help="Image name or ID, or `scratch`."),
    name: str | None = typer.Option(None, "--name", help="Name of the working container."),
    pull: str = PULL,
    quiet: bool = typer.Option(
        False, "-q", "--quiet", help="Print nothing but the container name."
    ),
    tls_verify: bool | None = TLS_VERIFY,
    authfile: str | None = AUTHFILE,
    creds: str | None = CREDS,
    cert_dir: str | None = CERT_DIR,
    retry: int = RETRY,
    retry_delay: str = RETRY_DELAY,
    platform: list[str] = PLATFORM_OPTION,
    arch: str | None = ARCH_OPTION,
    os: str | None = OS_OPTION,
    variant: str | None = VARIANT_OPTION,
) -> None:
    """Create a working container from IMAGE and print its name."""
    options = registry_options(
        tls_verify, authfile, creds, cert_dir, retry, retry_delay, quiet=quiet
    )
    container = WorkingContainer.create(
        open_store(ctx),
        image,
        name=name,
        pull=pull_policy(pull),
        options=options,
        platform=requested_platform(list(platform), arch, os, variant),
    )
    print(container.name)
