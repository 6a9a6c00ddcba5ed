"""bb add: like copy, but local tar archives are unpacked."""

import typer

from bb.cmd.common import verb_app
from bb.cmd.copy import copy_verb

app = verb_app()


@app.command("add")
def add(
    ctx: typer.Context,
    container: str = typer.Argument(..., help="Working container name or ID."),
    paths: list[str] = typer.Argument(..., help="SRC... DEST"),
    chown: str | None = typer.Option(None, "--chown", help="user[:group] owning the copies."),
    chmod: str | None = typer.Option(None, "--chmod", help="Octal permission bits of the copies."),
    from_source: str | None = typer.Option(
        None, "--from", help="Copy from this image or container."
    ),
) -> None:
    """Add SRC... to CONTAINER at DEST, unpacking local tar archives."""
    copy_verb(ctx, "ADD", container, paths, chown, chmod, from_source)
