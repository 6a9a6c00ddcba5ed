"""bb rmi: remove images."""

import typer

from bb.cmd.common import isula_build_mode, open_store, verb_app
from bb.errors import InvalidArgument
from bb.store.removal import prune_images, remove_all_images, remove_images

app = verb_app()


@app.command("rmi")
def rmi(
    ctx: typer.Context,
    images: list[str] = typer.Argument(None, help="Image names or IDs."),
    all_images: bool = typer.Option(False, "-a", "--all", help="Remove every image."),
    prune: bool = typer.Option(
        False, "-p", "--prune", help="Remove images with no name (after running builds end)."
    ),
    force: bool = typer.Option(False, "-f", "--force", help="Also remove containers using them."),
) -> None:
    """Remove each IMAGE (a name that is one of several tags is only untagged)."""
    if all_images and images:  # isula-build's words
        raise InvalidArgument("imageID/name is not allowed when using --all")
    if all_images and prune:
        raise InvalidArgument("--prune is not allowed when using --all")
    store = open_store(ctx)
    if all_images:
        report = remove_all_images(store, force)
    elif prune:
        report = prune_images(store)
    elif images:
        report = remove_images(store, list(images), force)
    else:
        raise typer.BadParameter("name an image, or use --all or --prune", param_hint="IMAGE")
    if isula_build_mode(ctx):  # isula-build names what it untags only when the image stays
        deleted = {removal.image_id for removal in report if removal.untagged is None}
        for image_id, untagged in report:
            if untagged is None:
                print(f"Deleted: sha256:{image_id}")
            elif image_id not in deleted:
                print(f"Untagged image: {untagged}")
        return
    for image_id, untagged in report:
        print(image_id if untagged is None else f"untagged: {untagged}")
