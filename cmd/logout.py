"""bb logout: forget credentials for a registry (or all)."""

import typer

from bb.cmd.common import verb_app
from bb.errors import NotFound
from bb.transports.auth import forget_credentials

app = verb_app()


@app.command("logout")
def logout(
    server: str | None = typer.Argument(None, help="Registry (host[:port])."),
    all_servers: bool = typer.Option(
        False, "-a", "--all", help="Forget every registry's credentials."
    ),
    authfile: str | None = typer.Option(None, "--authfile", help="auth.json to change."),
) -> None:
    """Remove the stored credentials for SERVER (or all with -a)."""
    if not all_servers and not server:
        raise typer.BadParameter("name a registry, or use --all", param_hint="SERVER")
    if not forget_credentials(None if all_servers else server, authfile) and not all_servers:
        raise NotFound(f"not logged in to {server}")
    print("Removed authentications" if all_servers else f"Removed authentication for {server}")
