"""bb images: list images."""

import dataclasses

import typer

from bb.cmd.common import (
    human_age,
    isula_build_mode,
    local_time,
    open_store,
    print_json,
    print_ruled_table,
    print_table,
    short_id,
    verb_app,
)
from bb.errors import ImageNotFound
from bb.image.reference import matches_repository_filter, parse_reference
from bb.system.units import human_size

app = verb_app()

HEADERS = ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
# the column widths of isula-build's manual's tables
ISULA_BUILD_WIDTHS = [39, 11, 17, 24, 12]


def _repository_and_tag(name: str, familiar: bool) -> tuple[str, str]:
    reference = parse_reference(name)
    repository = dataclasses.replace(reference, tag=None, digest=None)
    return repository.familiar() if familiar else repository.name, reference.tag or "<none>"


@app.command("images")
def images(
    ctx: typer.Context,
    image: str | None = typer.Argument(None, help="Only images matching REPOSITORY[:TAG]."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
    noheading: bool = typer.Option(False, "-n", "--noheading", help="Omit the header line."),
    notruncate: bool = typer.Option(False, "--no-trunc", "--notruncate", help="Print full IDs."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only image IDs."),
) -> None:
    """List images in the store."""
    store = open_store(ctx, repair=False)
    records = store.images.list()
    if image is not None:
        by_id = store.images.find(image)
        matching = [
            r for r in records if any(matches_repository_filter(name, image) for name in r.names)
        ]
        records = matching or ([by_id] if by_id is not None else [])
        if not records:  # as buildah: a name that matches nothing is an error, not an empty list
            raise ImageNotFound(image)
    if json_output:
        print_json(
            [
                {
                    "id": r.id,
                    "names": r.names,
                    "digest": r.manifest_digest,
                    "created": r.created,
                    "size": r.size,
                }
                for r in records
            ]
        )
        return
    if quiet:
        for record in records:
            print(short_id(record.id, not notruncate))
        return
    isula_build = isula_build_mode(ctx)
    rows = []
    for record in records:
        shown = [
            n for n in record.names if image is None or matches_repository_filter(n, image)
        ] or record.names
        names = [_repository_and_tag(name, isula_build) for name in shown] or [("<none>", "<none>")]
        for repository, tag in names:
            rows.append(
                [
                    repository,
                    tag,
                    short_id(record.id, not notruncate),
                    local_time(record.created) if isula_build else human_age(record.created),
                    human_size(record.size),
                ]
            )
    if isula_build:
        print_ruled_table(HEADERS, rows, ISULA_BUILD_WIDTHS)
    else:
        print_table(HEADERS, rows, noheading)
