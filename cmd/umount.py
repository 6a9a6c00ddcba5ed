"""bb umount: unmount what `bb mount` mounted."""

import typer

from bb.cmd.common import open_store, verb_app
from bb.working_container.container import WorkingContainer

app = verb_app()


@app.command("umount")
def umount(
    ctx: typer.Context,
    containers: list[str] = typer.Argument(None, help="Working containers."),
    all_containers: bool = typer.Option(False, "-a", "--all", help="Unmount every container."),
) -> None:
    """Unmount each CONTAINER's root."""
    store = open_store(ctx)
    names = (
        [record.id for record in store.containers.list()]
        if all_containers
        else list(containers or [])
    )
    if not names:
        raise typer.BadParameter("name a container, or use --all", param_hint="CONTAINER")
    for name in names:
        with WorkingContainer.opened(store, name) as container:
            container.unmount_for_user()
        print(container.id)
