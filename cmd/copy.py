"""bb copy: copy files from the host (or another container/image) into a working container."""

import typer

from bb.cmd.common import open_store, verb_app
from bb.working_container.container import WorkingContainer
from bb.working_container.copy import CopyOptions, copy_step

app = verb_app()


def copy_verb(
    ctx: typer.Context,
    verb: str,
    container: str,
    paths: list[str],
    chown: str | None,
    chmod: str | None,
    from_source: str | None,
) -> None:
    """What `copy` and `add` share: all but the last path are sources."""
    if len(paths) < 2:
        raise typer.BadParameter(
            "expected at least one source and a destination", param_hint="SRC... DEST"
        )
    options = CopyOptions(
        sources=paths[:-1],
        destination=paths[-1],
        chown=chown,
        chmod=chmod,
        from_source=from_source,
        extract_archives=verb == "ADD",
        verb=verb,
    )
    with WorkingContainer.opened(open_store(ctx), container) as working_container:
        copy_step(working_container, options)


@app.command("copy")
def copy(
    ctx: typer.Context,
    container: str = typer.Argument(..., help="Working container name or ID."),
    paths: list[str] = typer.Argument(..., help="SRC... DEST"),
    chown: str | None = typer.Option(None, "--chown", help="user[:group] owning the copies."),
    chmod: str | None = typer.Option(None, "--chmod", help="Octal permission bits of the copies."),
    from_source: str | None = typer.Option(
        None, "--from", help="Copy from this image or container."
    ),
) -> None:
    """Copy SRC... into CONTAINER at DEST."""
    copy_verb(ctx, "COPY", container, paths, chown, chmod, from_source)
