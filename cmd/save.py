"""bb save: write images to a docker-archive or oci-archive file."""

import os

import typer

from bb.cmd.common import isula_build_mode, open_store, verb_app
from bb.errors import InvalidArgument, OutputError
from bb.store.images import normalize_name
from bb.transports import export_images

app = verb_app()


@app.command("save")
def save(
    ctx: typer.Context,
    images: list[str] = typer.Argument(..., help="Images (names, IDs or ID prefixes)."),
    output: str = typer.Option(..., "-o", "--output", help="Archive file to write."),
    image_format: str = typer.Option(
        "docker", "-f", "--format", help="docker (docker-archive) or oci (oci-archive)."
    ),
) -> None:
    """Save IMAGES into one archive file."""
    if image_format not in ("docker", "oci"):
        raise InvalidArgument(f'--format "{image_format}": must be docker or oci')
    if isula_build_mode(ctx) and os.path.lexists(output):  # isula-build never overwrites
        raise OutputError(
            f'output file already exist: "{os.path.abspath(output)}", '
            "try to remove existing tarball or rename output file"
        )
    store = open_store(ctx, repair=False)
    chosen: dict[str, tuple] = {}
    for name in images:
        record = store.images.lookup(name)
        names = chosen.setdefault(record.id, (record, []))[1]
        by_name = not record.id.startswith(name.removeprefix("sha256:"))
        names.extend([normalize_name(name)] if by_name else record.names)
    transport = "docker-archive" if image_format == "docker" else "oci-archive"
    export_images(
        store,
        [(record, list(dict.fromkeys(names))) for record, names in chosen.values()],
        f"{transport}:{output}",
    )
    if isula_build_mode(ctx):
        print(f"Save success with image: {' '.join(images)}")
