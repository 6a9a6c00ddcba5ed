"""One place maps bb's errors to messages and exit codes."""

import typer
from typer.testing import CliRunner

from bb.cmd.common import reports_errors
from bb.errors import CommandNotFound, ImageNotFound, RunFailed


def app_raising(error):
    app = typer.Typer()

    @app.command()
    @reports_errors
    def fail() -> None:
        raise error

    return app


def test_errors_become_one_line_and_exit_codes():
    runner = CliRunner()
    for error, code in (
        (ImageNotFound("x"), 125),
        (CommandNotFound("x"), 127),
        (RunFailed("boom", 3), 3),
    ):
        result = runner.invoke(app_raising(error), [])
        assert result.exit_code == code
        assert result.output.strip().splitlines() == [f"Error: {error}"]


def test_os_errors_name_the_file():
    result = CliRunner().invoke(
        app_raising(FileNotFoundError(2, "No such file or directory", "/x")), []
    )
    assert result.exit_code == 125
    assert result.output.strip() == "Error: No such file or directory: /x"


def test_every_verb_command_maps_errors():
    from bb.cmd.common import verb_app

    app = verb_app()

    @app.command()
    def fail() -> None:
        raise ImageNotFound("x")

    result = CliRunner().invoke(app, [])
    assert result.exit_code == 125
    assert result.output.strip() == f"Error: {ImageNotFound('x')}"
