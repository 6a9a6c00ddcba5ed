"""bb rm: remove working containers."""

import typer

from bb.cmd.common import open_store, verb_app

app = verb_app()


@app.command("rm")
def rm(
    ctx: typer.Context,
    containers: list[str] = typer.Argument(None, help="Working containers."),
    all_containers: bool = typer.Option(
        False, "-a", "--all", help="Remove every working container."
    ),
) -> None:
    """Remove each CONTAINER and its layer."""
    store = open_store(ctx)
    if all_containers:
        records = store.containers.list()
    elif containers:
        records = [store.containers.get(name) for name in containers]
    else:
        raise typer.BadParameter("name a container, or use --all", param_hint="CONTAINER")
    for record in records:
        store.containers.remove(record)
        print(record.id)
