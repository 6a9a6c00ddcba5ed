"""bb info: describe the host and the store."""

import typer

from bb.cmd.common import open_store, print_json, reports_errors
from bb.store.info import store_info

app = typer.Typer()


@app.command("info")
@reports_errors
def info(ctx: typer.Context) -> None:
    """Print host and storage information as JSON."""
    print_json(store_info(open_store(ctx, repair=False)))
