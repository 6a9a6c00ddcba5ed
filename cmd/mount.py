"""bb mount: mount a working container's root and print where."""

import typer

from bb.cmd.common import open_store, verb_app
from bb.working_container.container import WorkingContainer

app = verb_app()


@app.command("mount")
def mount(
    ctx: typer.Context,
    containers: list[str] = typer.Argument(
        None, help="Working containers (none: list mounted ones)."
    ),
) -> None:
    """Mount each CONTAINER and print its root path (it stays mounted until `bb umount`)."""
    store = open_store(ctx)
    if not containers:
        for record in store.containers.list():
            if store.user_mounted(record.id) and store.driver.is_mounted(record.id):
                print(f"{record.name} {store.driver.mount(record.id)}")
        return
    for name in containers:
        with WorkingContainer.opened(store, name) as container:
            path = container.mount_for_user()
        print(path if len(containers) == 1 else f"{container.name} {path}")
