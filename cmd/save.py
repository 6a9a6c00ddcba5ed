"""bb save: write images to a docker-archive or oci-archive file, or as separated images."""

import os

import typer

from bb.cmd.common import isula_build_mode, open_store, verb_app
from bb.errors import InvalidArgument, OutputError
from bb.store.images import normalize_name
from bb.system.progress import Progress
from bb.transports import export_images
from bb.transports.base import TransportOptions

app = verb_app()


@app.command("save")
def save(
    ctx: typer.Context,
    images: list[str] = typer.Argument(..., help="Images (names, IDs or ID prefixes)."),
    output: str | None = typer.Option(None, "-o", "--output", help="Archive file to write."),
    image_format: str = typer.Option(
        "docker", "-f", "--format", help="docker (docker-archive) or oci (oci-archive)."
    ),
    base: str | None = typer.Option(
        None, "-b", "--base", help="Separated images: the base image (one layer) NAME:TAG."
    ),
    lib: str | None = typer.Option(
        None, "-l", "--lib", help="Separated images: the lib image NAME:TAG."
    ),
    dest: str | None = typer.Option(
        None, "-d", "--dest", help="Separated images: a new directory for them (default Images)."
    ),
    compress: bool = typer.Option(
        False, "--compress", help="Compress the layers in the archive (gzip, on every core)."
    ),
    rename: str | None = typer.Option(
        None, "-r", "--rename", help="Separated images: rename.json for the tarballs' names."
    ),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Show no progress."),
) -> None:
    """Save IMAGES into one archive file, or (-b) as isula-build's separated images."""
    if any(option is not None for option in (base, lib, dest, rename)):
        if output is not None:
            raise InvalidArgument("conflict flags between -o and [-b -l -r -d]")
        if base is None:
            raise InvalidArgument("base image name(-b) must be provided")
        from bb.transports.separated import save_separated

        save_separated(open_store(ctx, repair=False), list(images), base, lib, dest, rename)
        if isula_build_mode(ctx):
            print(f"Save success with image: {' '.join(images)}")
        return
    if output is None:
        raise InvalidArgument("output path(-o) should not be empty")
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
        TransportOptions(
            short_local_names=not isula_build_mode(ctx),
            compress=compress,
            progress=Progress.on_stderr(quiet),
        ),
    )
    if isula_build_mode(ctx):
        print(f"Save success with image: {' '.join(images)}")
