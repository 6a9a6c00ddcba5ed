"""Every verb and every subcommand of a verb group prints its help (no markup crash)."""

import importlib
import traceback

import click
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from bb.cmd.common import VerbTyper
from bb.cmd.main import VERBS, app


def command_lines() -> list[list[str]]:
    """`[verb]` for each verb in VERBS, and `[group, sub]` for each command of a group."""
    root = get_command(app)
    context = click.Context(root, info_name="bb")
    lines = []
    for verb in sorted(VERBS):
        lines.append([verb])
        command = root.get_command(context, verb)  # type: ignore[attr-defined]
        if isinstance(command, click.Group):
            sub_context = click.Context(command, info_name=verb, parent=context)
            lines.extend([verb, sub] for sub in command.list_commands(sub_context))
    return lines


COMMAND_LINES = command_lines()


def test_the_command_list_is_derived_from_the_code():
    assert COMMAND_LINES
    assert ["config"] in COMMAND_LINES
    assert ["manifest", "create"] in COMMAND_LINES
    assert ["ctr-img", "rm"] in COMMAND_LINES


@pytest.mark.parametrize("words", COMMAND_LINES, ids=" ".join)
def test_help_prints_usage(words):
    result = CliRunner().invoke(app, [*words, "--help"])
    failure = result.exception if not isinstance(result.exception, SystemExit) else None
    assert failure is None, "".join(traceback.format_exception(failure))
    assert result.exit_code == 0
    assert "Usage" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("module_name", sorted(set(VERBS.values())))
def test_every_verb_is_built_by_the_verb_factory(module_name):
    module = importlib.import_module(f"bb.cmd.{module_name}")
    assert isinstance(module.app, VerbTyper)
