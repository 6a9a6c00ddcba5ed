"""bb prune: remove the RUN --mount=type=cache directories (the build's mount cache)."""

import typer

from bb.cmd.common import open_store, verb_app
from bb.store.run_cache import prune_run_cache

app = verb_app()


@app.command("prune")
def prune(ctx: typer.Context) -> None:
    """Remove every RUN --mount=type=cache directory no running step uses."""
    removed = prune_run_cache(open_store(ctx))
    print(f"removed {removed} cache director{'y' if removed == 1 else 'ies'}")
