"""Interpreting instruction arguments: key=value lists, words, HEALTHCHECK, with expansion.

Errors name the Dockerfile and the instruction's line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bb.dockerfile.expand import (
    ExpansionError,
    expand,
    expand_heredoc,
    expand_words,
    nameable,
    split_words_keeping_quotes,
)
from bb.dockerfile.parser import Instruction
from bb.errors import DockerfileError, InvalidArgument
from bb.image.healthcheck import (
    DURATION_OPTIONS,
    OPTION_NAMES,
    HealthcheckOptions,
    healthcheck_config,
)
from bb.system.units import parse_duration


def _fail(instruction: Instruction, path: str, message: str) -> DockerfileError:
    return DockerfileError(path, instruction.line, f"{instruction.keyword}: {message}")


def expanded_word(
    instruction: Instruction, path: str, text: str, env: Mapping[str, str], escape: str
) -> str:
    """`text` expanded as one word."""
    try:
        return expand(text, env, escape)
    except ExpansionError as failure:
        raise _fail(instruction, path, str(failure)) from None


def expanded_heredoc(
    instruction: Instruction, path: str, text: str, env: Mapping[str, str], escape: str
) -> str:
    """A heredoc body with its variables expanded."""
    try:
        return expand_heredoc(text, env, escape)
    except ExpansionError as failure:
        raise _fail(instruction, path, str(failure)) from None


def expanded_words(
    instruction: Instruction, path: str, env: Mapping[str, str], escape: str
) -> list[str]:
    """The instruction's arguments as words (JSON form: each element), expanded."""
    try:
        if instruction.json_arguments is not None:
            return [expand(item, env, escape) for item in instruction.json_arguments]
        return expand_words(instruction.text_without_heredocs, env, escape)
    except ExpansionError as failure:
        raise _fail(instruction, path, str(failure)) from None


def assignments(
    instruction: Instruction, path: str, env: Mapping[str, str], escape: str
) -> list[tuple[str, str | None]]:
    """ENV/LABEL/ARG pairs, expanded; an ARG without default gives (name, None).

    `ENV KEY value with spaces` (no `=` in the first word) is the legacy form.
    """
    try:
        words = split_words_keeping_quotes(instruction.arguments, escape)
        if instruction.keyword == "ENV" and "=" not in words[0]:
            key = expand(words[0], env, escape)
            value = instruction.arguments[len(words[0]) :].strip()
            return [(key, expand(value, env, escape))]
        pairs: list[tuple[str, str | None]] = []
        for word in words:
            key, equals, value = word.partition("=")
            key = expand(key, env, escape)
            if not key:
                raise _fail(instruction, path, "a name is missing before '='")
            pairs.append((key, expand(value, env, escape) if equals else None))
        return pairs
    except ExpansionError as failure:
        raise _fail(instruction, path, str(failure)) from None


def parse_healthcheck(instruction: Instruction, path: str) -> dict[str, Any]:
    """HEALTHCHECK [--interval=... --timeout=... --start-period=... --start-interval=...
    --retries=N] CMD ... | NONE."""
    text = instruction.arguments.strip()
    if text.upper() == "NONE":
        if instruction.flags:
            raise _fail(instruction, path, "NONE takes no options")
        return {"Test": ["NONE"]}
    keyword, _, command = text.partition(" ")
    if keyword.upper() != "CMD" or not command.strip():
        raise _fail(instruction, path, "expected CMD <command> or NONE")
    values: dict[str, str] = {}
    for name, value in instruction.flags:
        if name not in OPTION_NAMES:
            raise _fail(
                instruction,
                path,
                f"unknown option --{name}" if nameable(name) else "unknown option",
            )
        if value is None:
            raise _fail(instruction, path, f"--{name} needs a value")
        values[name] = value
    retries = values.get("retries")
    if retries is not None and not retries.isdigit():
        raise _fail(instruction, path, "--retries: expected a number")
    for name in DURATION_OPTIONS:
        if values.get(name):
            try:
                parse_duration(values[name], f"--{name}")
            except InvalidArgument:
                # (its message quotes the value, which errors about a Dockerfile never do)
                raise _fail(
                    instruction, path, f"--{name}: expected a duration such as 30s or 1m30s"
                ) from None
    options = HealthcheckOptions(
        test=command.strip(),
        retries=int(retries) if retries is not None else None,
        **{name.replace("-", "_"): values.get(name) for name in DURATION_OPTIONS},
    )
    try:
        return healthcheck_config(options, flag_prefix="--")
    except InvalidArgument as failure:
        raise _fail(instruction, path, str(failure)) from None
