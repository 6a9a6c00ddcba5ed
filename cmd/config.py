"""bb config: set what the next commit writes into the image config."""

from typing import List, Optional

import typer

from bb.cmd.common import open_store, verb_app
from bb.image.healthcheck import HealthcheckOptions
from bb.working_container.configuration import ConfigOptions, apply_config
from bb.working_container.container import WorkingContainer

app = verb_app()


@app.command("config")
def config(
    ctx: typer.Context,
    container: str = typer.Argument(..., help="Working container name or ID."),
    env: List[str] = typer.Option([], "-e", "--env", help="K=V to set, K- to remove (repeatable)."),
    cmd: Optional[str] = typer.Option(None, "--cmd", help="Default command: JSON array or words."),
    entrypoint: Optional[str] = typer.Option(None, "--entrypoint", help="Entrypoint: JSON array or shell command."),
    workingdir: Optional[str] = typer.Option(None, "--workingdir", help="Default working directory."),
    user: Optional[str] = typer.Option(None, "-u", "--user", help="Default user[:group]."),
    label: List[str] = typer.Option([], "-l", "--label", help="K=V label, K- to remove (repeatable)."),
    annotation: List[str] = typer.Option([], "-a", "--annotation", help="K=V manifest annotation (repeatable)."),
    port: List[str] = typer.Option([], "-p", "--port", help="Exposed PORT[/proto], PORT- to remove (repeatable)."),
    volume: List[str] = typer.Option([], "-v", "--volume", help="Volume path, PATH- to remove (repeatable)."),
    stop_signal: Optional[str] = typer.Option(None, "--stop-signal", help="Signal that stops the container."),
    author: Optional[str] = typer.Option(None, "--author", help="Image author."),
    shell: Optional[str] = typer.Option(None, "--shell", help="Shell for shell-form commands (JSON array)."),
    healthcheck: Optional[str] = typer.Option(None, "--healthcheck", help="Health check command, or NONE."),
    healthcheck_interval: Optional[str] = typer.Option(None, "--healthcheck-interval"),
    healthcheck_timeout: Optional[str] = typer.Option(None, "--healthcheck-timeout"),
    healthcheck_start_period: Optional[str] = typer.Option(None, "--healthcheck-start-period"),
    healthcheck_start_interval: Optional[str] = typer.Option(None, "--healthcheck-start-interval"),
    healthcheck_retries: Optional[int] = typer.Option(None, "--healthcheck-retries"),
    onbuild: List[str] = typer.Option([], "--onbuild", help="Trigger instruction for child builds (repeatable)."),
    arch: Optional[str] = typer.Option(None, "--arch", help="Image architecture."),
    os: Optional[str] = typer.Option(None, "--os", help="Image operating system."),
    created_by: Optional[str] = typer.Option(None, "--created-by", help="Record this step in the history."),
) -> None:
    """Change the image configuration of CONTAINER."""
    check = None
    if healthcheck is not None:
        check = HealthcheckOptions(
            healthcheck, healthcheck_interval, healthcheck_timeout,
            healthcheck_start_period, healthcheck_start_interval, healthcheck_retries,
        )
    options = ConfigOptions(
        env=list(env), cmd=cmd, entrypoint=entrypoint, workingdir=workingdir, user=user,
        labels=list(label), annotations=list(annotation), ports=list(port), volumes=list(volume),
        stop_signal=stop_signal, author=author, shell=shell, healthcheck=check, onbuild=list(onbuild),
        arch=arch, os=os, created_by=created_by,
    )
    with WorkingContainer.opened(open_store(ctx), container) as working_container:
        apply_config(working_container, options)
