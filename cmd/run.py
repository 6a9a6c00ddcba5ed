"""bb run: run a command inside a working container."""

import typer

from bb.cmd.common import open_store, verb_app
from bb.runtime.spec import parse_confinement
from bb.working_container.container import WorkingContainer
from bb.working_container.run import RunOptions, run_step

app = verb_app()


@app.command("run", context_settings={"allow_interspersed_args": False})
def run(
    ctx: typer.Context,
    container: str = typer.Argument(..., help="Working container name or ID."),
    command: list[str] = typer.Argument(None, help="Command and arguments (after --)."),
    tty: bool = typer.Option(
        False, "-t", "--tty", help="Allocate a terminal (interactive debugging)."
    ),
    env: list[str] = typer.Option(
        [], "-e", "--env", help="Extra environment variable K=V (repeatable)."
    ),
    cap_add: list[str] = typer.Option(
        [], "--cap-add", help="Add a capability, or ALL (repeatable)."
    ),
    cap_drop: list[str] = typer.Option(
        [], "--cap-drop", help="Drop a capability, or ALL (repeatable)."
    ),
    security_opt: list[str] = typer.Option(
        [],
        "--security-opt",
        help="seccomp=unconfined, seccomp=PATH or no-new-privileges (repeatable).",
    ),
    network: str | None = typer.Option(
        None, "--network", help="host (the default) or none (loopback only)."
    ),
    workingdir: str | None = typer.Option(
        None, "--workingdir", help="Working directory for the command."
    ),
    user: str | None = typer.Option(None, "--user", help="user[:group] to run as."),
    volume: list[str] = typer.Option(
        [], "-v", "--volume", help="Bind mount SRC:DST[:ro] (repeatable)."
    ),
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
        confinement=parse_confinement(list(cap_add), list(cap_drop), list(security_opt), network),
        volumes=list(volume),
    )
    with WorkingContainer.opened(open_store(ctx), container) as working_container:
        run_step(working_container, options)
