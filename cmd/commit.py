"""bb commit: write the working container's changes as a new image."""

import typer

from bb.cmd.common import open_store, verb_app
from bb.system.atomic import write_atomic
from bb.system.progress import Progress
from bb.transports import export_image, split_transport
from bb.transports.base import TransportOptions
from bb.working_container.commit import CommitOptions, commit_step
from bb.working_container.container import WorkingContainer

app = verb_app()


@app.command("commit")
def commit(
    ctx: typer.Context,
    container: str = typer.Argument(..., help="Working container name or ID."),
    image: str | None = typer.Argument(None, help="Name of the new image (NAME[:TAG])."),
    iidfile: str | None = typer.Option(None, "--iidfile", help="Write the image ID to this file."),
    squash: bool = typer.Option(False, "--squash", help="Make the image a single layer."),
    remove: bool = typer.Option(
        False,
        "--rm",
        help=(
            "Remove the working container afterwards (its files move to the new layer; "
            "if bb dies mid-commit, the container is removed too)."
        ),
    ),
    image_format: str = typer.Option(
        "oci", "-f", "--format", help="Manifest format: oci or docker."
    ),
    timestamp: int | None = typer.Option(
        None, "--timestamp", help="Fixed created time and file mtimes (epoch seconds)."
    ),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the image ID."),
) -> None:
    """Commit CONTAINER to IMAGE and print the image ID."""
    destination = image if image and split_transport(image) is not None else None
    names = [image] if image and destination is None else []
    options = CommitOptions(
        names=names,
        squash=squash,
        image_format=image_format,
        timestamp=timestamp,
        discard_container=remove,
        progress=Progress.on_stderr(quiet),
    )
    store = open_store(ctx)
    with WorkingContainer.opened(store, container) as working_container:
        record = commit_step(working_container, options)
        if remove:
            store.containers.remove(working_container.record, lock_held=True)
    if destination is not None:
        export_image(
            store,
            record,
            destination,
            TransportOptions(image_format=image_format, progress=options.progress),
        )
    if iidfile:
        write_atomic(iidfile, f"sha256:{record.id}".encode(), mode=0o644)
    print(record.id)
