"""bb tag: give an image more names."""

import typer

from bb.cmd.common import open_store, verb_app
from bb.store.removal import tag_image

app = verb_app()


@app.command("tag")
def tag(
    ctx: typer.Context,
    image: str = typer.Argument(..., help="Image name or ID."),
    names: list[str] = typer.Argument(..., help="New names (NAME[:TAG])."),
) -> None:
    """Add NAMES to IMAGE."""
    tag_image(open_store(ctx), image, list(names))
