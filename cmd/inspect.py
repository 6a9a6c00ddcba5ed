"""bb inspect: show a working container or image as JSON."""

import typer

from bb.cmd.common import open_store, print_json, render_format, verb_app
from bb.errors import InvalidArgument
from bb.working_container.container import WorkingContainer

app = verb_app()


@app.command("inspect")
def inspect(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Container or image name or ID."),
    kind: str | None = typer.Option(
        None, "-t", "--type", help="container or image (default: container, then image)."
    ),
    template: str | None = typer.Option(
        None, "-f", "--format", help="Print this {{.Field}} template instead."
    ),
) -> None:
    """Print what bb knows of a working container or an image."""
    if kind not in (None, "container", "image"):
        raise InvalidArgument(f'--type "{kind}": must be container or image')
    store = open_store(ctx, repair=False)
    document = None
    if kind in (None, "container") and (
        kind == "container" or store.containers.find(name) is not None
    ):
        with WorkingContainer.opened(store, name) as container:
            document = container.describe()
    if document is None:
        document = store.images.describe(store.images.lookup(name))
    if template is not None:
        print(render_format(template, document))
    else:
        print_json(document)
