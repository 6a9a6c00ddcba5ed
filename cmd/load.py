"""bb load: load images from a docker-archive or oci-archive file."""

import typer

from bb.cmd.common import isula_build_mode, open_store, verb_app
from bb.transports import load_archive

app = verb_app()


@app.command("load")
def load(
    ctx: typer.Context,
    input_file: str = typer.Option(..., "-i", "--input", help="Archive file (plain, gzip or xz)."),
) -> None:
    """Load every image of an archive."""
    for record in load_archive(open_store(ctx), input_file):
        if isula_build_mode(ctx):
            print(f"Loaded image as {record.id}")
            continue
        for name in record.names or [record.id]:
            print(f"Loaded image: {name}")
