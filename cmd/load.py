"""bb load: load images from a docker-archive or oci-archive file, or separated images."""

import typer

from bb.cmd.common import isula_build_mode, open_store, verb_app
from bb.errors import InvalidArgument
from bb.system.progress import Progress
from bb.transports import load_archive

app = verb_app()


@app.command("load")
def load(
    ctx: typer.Context,
    input_file: str = typer.Option(
        ..., "-i", "--input", help="Archive file (plain, gzip or xz); with -d the app NAME:TAG."
    ),
    directory: str | None = typer.Option(
        None, "-d", "--dir", help="Separated images: the directory `save -b` wrote."
    ),
    base: str | None = typer.Option(
        None, "-b", "--base", help="Separated images: the base tarball (default: the directory's)."
    ),
    lib: str | None = typer.Option(
        None, "-l", "--lib", help="Separated images: the lib tarball (default: the directory's)."
    ),
    no_check: bool = typer.Option(
        False, "--no-check", help="Separated images: skip the tarballs' sha256 check."
    ),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Show no progress."),
) -> None:
    """Load every image of an archive, or (-d) the app image -i of separated images."""
    if directory is None and (base or lib or no_check):
        raise InvalidArgument("-b, -l and --no-check need -d, the separated images' directory")
    if directory is not None:
        from bb.transports.separated import load_separated

        records = load_separated(open_store(ctx), directory, input_file, base, lib, not no_check)
    else:
        records = load_archive(open_store(ctx), input_file, Progress.on_stderr(quiet))
    for record in records:
        if isula_build_mode(ctx):
            print(f"Loaded image as {record.id}")
            continue
        for name in record.names or [record.id]:
            print(f"Loaded image: {name}")
