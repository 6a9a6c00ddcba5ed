"""The `bb` command: global options, and the verbs, each imported only when it runs."""

from __future__ import annotations

import importlib
import os
import signal
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from bb.cmd.common import GlobalOptions, exit_code
from bb.errors import EXIT_FAILURE, Interrupted

# verb -> module in bb.cmd defining `app`, a Typer with that one command
VERBS = {
    "add": "add",
    "build": "build",
    "bud": "build",
    "commit": "commit",
    "config": "config",
    "containers": "containers",
    "copy": "copy",
    "ctr-img": "ctr_img",
    "from": "from_",
    "images": "images",
    "import": "import_",
    "info": "info",
    "inspect": "inspect",
    "load": "load",
    "login": "login",
    "logout": "logout",
    "manifest": "manifest",
    "mount": "mount",
    "prune": "prune",
    "pull": "pull",
    "push": "push",
    "rm": "rm",
    "rmi": "rmi",
    "run": "run",
    "save": "save",
    "tag": "tag",
    "umount": "umount",
    "version": "version",
}


class VerbGroup(TyperGroup):
    """Loads a verb's module only when that verb is used, keeping start-up fast."""

    def list_commands(self, ctx: Any) -> list[str]:
        """Every verb."""
        return sorted(VERBS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The click command of one verb."""
        module_name = VERBS.get(cmd_name)
        if module_name is None:
            return None
        module = importlib.import_module(f"bb.cmd.{module_name}")
        command = typer.main.get_command(module.app)
        command.name = cmd_name
        return command


app = typer.Typer(
    cls=VerbGroup,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="bb builds OCI and Docker container images, daemonless.",
)


@app.callback()
def main(
    ctx: typer.Context,
    root: str | None = typer.Option(
        None,
        "--root",
        "--dataroot",
        envvar="BB_ROOT",
        help="Storage graph root (default /var/lib/bb; --dataroot: isula-builder's name).",
    ),
    runroot: str | None = typer.Option(
        None, "--runroot", envvar="BB_RUNROOT", help="Storage run root (default /run/bb)."
    ),
    storage_driver: str | None = typer.Option(
        None,
        "--storage-driver",
        envvar="BB_STORAGE_DRIVER",
        help="Storage driver: overlay, vfs or devicemapper.",
    ),
    storage_opt: list[str] = typer.Option(
        [], "--storage-opt", help="Storage driver option KEY=VALUE (repeatable)."
    ),
    config: str | None = typer.Option(
        None,
        "--config",
        envvar="BB_CONFIG",
        help="Storage configuration file (default /etc/bb/storage.toml), or isula-build's "
        "DIR/configuration.toml (then DIR/storage.toml and DIR/registries.toml).",
    ),
    debug: bool = typer.Option(False, "--debug", help="Print tracebacks with errors."),
) -> None:
    """bb builds OCI and Docker container images, daemonless."""
    if debug:
        os.environ["BB_DEBUG"] = "1"
    ctx.obj = GlobalOptions(root, runroot, storage_driver, list(storage_opt), config, debug)


def _interrupt(signal_number: int, frame: Any) -> None:
    """The first SIGINT or SIGTERM unwinds bb; later ones wait for that clean-up to finish."""
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        # a handler, not SIG_IGN, so the tools the clean-up runs do not inherit the ignoring
        signal.signal(stop_signal, lambda number, frame: None)
    raise Interrupted(signal_number)


def run() -> None:
    """Console-script entry point: usage errors are reported like every other error."""
    from click.exceptions import ClickException

    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, _interrupt)
    command = typer.main.get_command(app)
    try:
        status = command.main(args=sys.argv[1:], prog_name="bb", standalone_mode=False)
    except ClickException as failure:
        print(f"Error: {failure.format_message()}", file=sys.stderr)
        sys.exit(exit_code(EXIT_FAILURE, getattr(failure, "ctx", None)))
    except typer.Abort:
        sys.exit(EXIT_FAILURE)
    except Interrupted as stop:
        # what was started has been stopped and cleaned up by the time this unwinds here
        print(f"Error: {stop}", file=sys.stderr)
        sys.exit(stop.exit_code)
    sys.exit(status if isinstance(status, int) else 0)
