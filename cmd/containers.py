"""bb containers: list working containers."""

import typer

from bb.cmd.common import open_store, print_json, print_table, short_id, verb_app

app = verb_app()


@app.command("containers")
def containers(
    ctx: typer.Context,
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
    noheading: bool = typer.Option(False, "-n", "--noheading", help="Omit the header line."),
    notruncate: bool = typer.Option(False, "--notruncate", help="Print full IDs."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only container IDs."),
) -> None:
    """List working containers."""
    records = open_store(ctx, repair=False).containers.list()
    if json_output:
        print_json(
            [
                {
                    "id": r.id,
                    "builder": True,
                    "imageid": r.image_id or "",
                    "imagename": r.image_name or "",
                    "containername": r.name,
                }
                for r in records
            ]
        )
    elif quiet:
        for record in records:
            print(short_id(record.id, not notruncate))
    else:
        print_table(
            ["CONTAINER ID", "BUILDER", "IMAGE ID", "IMAGE NAME", "CONTAINER NAME"],
            (
                [
                    short_id(r.id, not notruncate),
                    "*",
                    short_id(r.image_id or "", not notruncate),
                    r.image_name or "scratch",
                    r.name,
                ]
                for r in records
            ),
            noheading,
        )
