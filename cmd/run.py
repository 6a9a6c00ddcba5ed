"""bb run: run a command inside a working container."""

from typing import List, Optional

import typer

from bb.cmd.common import open_store, reports_errors
from bb.working_container.container import WorkingContainer
from bb.working_container.run import RunOptions, run_step

app = typer.Typer()


@app.command("run", context_settings={"allow_interspersed_args": False})
@reports_errors
def run(
    ctx: typer.Context,
    container: str = typer.Argument(..., help="Working container name or ID."),
    command: List[str] = typer.Argument(None, help="Command and arguments (after --)."),
    tty: bool = typer.Option(False, "-t", "--tty", help="Allocate a terminal (interactive debugging)."),
    env: List[str] = typer.Option([], "-e", "--env", help="Extra environment variable K=V (repeatable)."),
    cap_add: List[str] = typer.Option([], "--cap-add", help="Add a capability (repeatable)."),
    workingdir: Optional[str] = typer.Option(None, "--workingdir", help="Working directory for the command."),
    user: Optional[str] = typer.Option(None, "--user", help="user[:group] to run as."),
    volume: List[str] = typer.Option([], "-v", "--volume", help="Bind mount SRC:DST[:ro] (repeatable)."),
) -> None:
    """Run COMMAND in CONTAINER; its exit status is bb's."""
    arguments = list(command or [])
    # Options stop at the container name, so click leaves a `--` separator in place.
    if arguments[:1] == ["--"]:
        arguments = arguments[1:]
    options = RunOptions(
        command=arguments,
        env=list(env),
        workingdir=workingdir,
        user=user,
        terminal=tty,
        cap_add=list(cap_add),
        volumes=list(volume),
    )
    with WorkingContainer.opened(open_store(ctx), container) as working_container:
        run_step(working_container, options)
