"""bb config: set what the next commit writes into the image config."""

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
    env: list[str] = typer.Option([], "-e", "--env", help="K=V to set, K- to remove (repeatable)."),
    cmd: str | None = typer.Option(None, "--cmd", help="Default command: JSON array or words."),
    entrypoint: str | None = typer.Option(
        None, "--entrypoint", help="Entrypoint: JSON array or shell command."
    ),
    workingdir: str | None = typer.Option(None, "--workingdir", help="Default working directory."),
    user: str | None = typer.Option(None, "-u", "--user", help="Default user[:group]."),
    label: list[str] = typer.Option(
        [], "-l", "--label", help="K=V label, K- to remove (repeatable)."
    ),
    annotation: list[str] = typer.Option(
        [], "-a", "--annotation", help="K=V manifest annotation (repeatable)."
    ),
    port: list[str] = typer.Option(
        [], "-p", "--port", help="Exposed PORT[/proto], PORT- to remove (repeatable)."
    ),
    volume: list[str] = typer.Option(
        [], "-v", "--volume", help="Volume path, PATH- to remove (repeatable)."
    ),
    stop_signal: str | None = typer.Option(
        None, "--stop-signal", help="Signal that stops the container."
    ),
    author: str | None = typer.Option(None, "--author", help="Image author."),
    shell: str | None = typer.Option(
        None, "--shell", help="Shell for shell-form commands (JSON array)."
    ),
    healthcheck: str | None = typer.Option(
        None, "--healthcheck", help="Health check command, or NONE."
    ),
    healthcheck_interval: str | None = typer.Option(None, "--healthcheck-interval"),
    healthcheck_timeout: str | None = typer.Option(None, "--healthcheck-timeout"),
    healthcheck_start_period: str | None = typer.Option(None, "--healthcheck-start-period"),
    healthcheck_start_interval: str | None = typer.Option(None, "--healthcheck-start-interval"),
    healthcheck_retries: int | None = typer.Option(None, "--healthcheck-retries"),
    onbuild: list[str] = typer.Option(
        [], "--onbuild", help="Trigger instruction for child builds (repeatable)."
    ),
    arch: str | None = typer.Option(None, "--arch", help="Image architecture."),
    os: str | None = typer.Option(None, "--os", help="Image operating system."),
    created_by: str | None = typer.Option(
        None, "--created-by", help="Record this step in the history."
    ),
) -> None:
    """Change the image configuration of CONTAINER."""
    check = None
    if healthcheck is not None:
        check = HealthcheckOptions(
            healthcheck,
            healthcheck_interval,
            healthcheck_timeout,
            healthcheck_start_period,
            healthcheck_start_interval,
            healthcheck_retries,
        )
    options = ConfigOptions(
        env=list(env),
        cmd=cmd,
        entrypoint=entrypoint,
        workingdir=workingdir,
        user=user,
        labels=list(label),
        annotations=list(annotation),
        ports=list(port),
        volumes=list(volume),
        stop_signal=stop_signal,
        author=author,
        shell=shell,
        healthcheck=check,
        onbuild=list(onbuild),
        arch=arch,
        os=os,
        created_by=created_by,
    )
    with WorkingContainer.opened(open_store(ctx), container) as working_container:
        apply_config(working_container, options)
