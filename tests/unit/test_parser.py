"""The Dockerfile parser: forms, flags, heredocs, stages, and errors that name the line."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bb.dockerfile.parser import parse
from bb.errors import DockerfileError


def instructions(text):
    return parse(text).stages[-1].instructions


def test_continuations_comments_and_lines():
    dockerfile = parse("FROM busybox\n\nRUN echo a \\\n# comment inside\n\n    b\nENV X=1\n")
    run, env = dockerfile.stages[0].instructions
    assert run.arguments == "echo a     b" and run.line == 3
    assert env.line == 7


def test_escape_directive_and_syntax():
    dockerfile = parse("# syntax=docker/dockerfile:1\n# escape=`\nFROM busybox\nRUN a `\n  b\n")
    assert dockerfile.escape == "`" and dockerfile.directives["syntax"] == "docker/dockerfile:1"
    assert dockerfile.stages[0].instructions[0].arguments == "a   b"


def test_directives_only_at_the_top():
    dockerfile = parse("FROM busybox\n# escape=`\nRUN a \\\n b\n")
    assert dockerfile.escape == "\\"


@pytest.mark.parametrize(
    "text, json_form",
    [
        ('CMD ["a", "b"]', ["a", "b"]),
        ("CMD [not json", None),
        ('CMD echo "a b"', None),
        ("ENTRYPOINT []", []),
    ],
)
def test_exec_and_shell_forms(text, json_form):
    (instruction,) = instructions("FROM busybox\n" + text + "\n")
    assert instruction.json_arguments == json_form


def test_flags():
    (copy,) = instructions("FROM busybox\nCOPY --from=build --chown=1:2 --link a b\n")
    assert copy.flags == [("from", "build"), ("chown", "1:2"), ("link", None)]
    assert copy.flag("from") == "build" and copy.arguments == "a b"


def test_heredocs():
    run, copy = instructions(
        "FROM busybox\nRUN <<EOF <<-'TWO'\nline $X\nEOF\n\tliteral\n\tTWO\n"
        "COPY <<A /a\nx\nA\nENV AFTER=1\n"
    )[:2]
    assert [(h.name, h.content, h.expand, h.strip_tabs) for h in run.heredocs] == [
        ("EOF", "line $X\n", True, False),
        ("TWO", "literal\n", False, True),
    ]
    assert copy.heredocs[0].content == "x\n" and copy.text_without_heredocs == "/a"
    assert instructions("FROM busybox\nRUN <<EOF\nx\nEOF\nENV AFTER=1\n")[1].line == 5


def test_stages_and_meta_args():
    dockerfile = parse(
        "ARG V=1\nFROM busybox AS Build\nRUN a\nFROM 1st-stage as Second\nFROM build\n"
    )
    assert [a.arguments for a in dockerfile.meta_args] == ["V=1"]
    assert [(s.index, s.name, s.base) for s in dockerfile.stages] == [
        (0, "build", "busybox"),
        (1, "second", "1st-stage"),
        (2, None, "build"),
    ]


def test_onbuild_trigger():
    (onbuild,) = instructions("FROM busybox\nONBUILD COPY a /b\n")
    assert onbuild.trigger.keyword == "COPY" and onbuild.arguments == "COPY a /b"


@pytest.mark.parametrize(
    "text, message",
    [
        ("FROM busybox\nFOO bar\n", "Dockerfile:2: unknown instruction: FOO"),
        ("ENV A=1\nFROM busybox\n", "Dockerfile:1: ENV before the first FROM"),
        ("# only a comment\n", "no FROM instruction"),
        ("FROM busybox\nSHELL [bad\n", "Dockerfile:2: SHELL requires"),
        ("FROM busybox\nCOPY onlyone\n", "Dockerfile:2: COPY requires at least one source"),
        ("FROM busybox AS " + "a" * 65 + "\n", "longer than 64"),
        ("FROM busybox AS a\nFROM busybox AS A\n", "duplicate stage name"),
        ("FROM busybox AS bad!name\n", "invalid stage name"),
        ("FROM busybox\nONBUILD ONBUILD RUN x\n", "not allowed as an ONBUILD trigger"),
        ("FROM busybox\nRUN <<EOF\nnever ends\n", "Dockerfile:2: heredoc <<EOF is not terminated"),
        ("FROM busybox\nHEALTHCHECK --interval=x CMD true\n", "Dockerfile:2: HEALTHCHECK"),
        ("FROM busybox\nLABEL novalue\n", "Dockerfile:2: LABEL requires KEY=VALUE"),
        ("FROM busybox\nENV ONLYKEY\n", "Dockerfile:2: ENV requires a value"),
        ("FROM busybox\nRUN\n", "Dockerfile:2: RUN requires at least one argument"),
    ],
)
def test_errors_name_the_line(text, message):
    with pytest.raises(DockerfileError) as failure:
        parse(text)
    assert message in str(failure.value)


def test_stage_names_up_to_64_characters():
    assert parse("FROM busybox AS " + "a" * 64 + "\n").stages[0].name == "a" * 64


def test_size_limit():
    with pytest.raises(DockerfileError, match="1 MiB"):
        parse("FROM busybox\n" + "#" * (1 << 20))


LINES = st.sampled_from(
    [
        "FROM busybox",
        "FROM busybox AS x",
        "RUN echo hi \\",
        "RUN <<EOF",
        "EOF",
        "COPY a b",
        "COPY <<A /x",
        "A",
        'ENV A=1 B="2 3"',
        "ENV A",
        "LABEL a=b",
        "ARG X",
        "# escape=`",
        "HEALTHCHECK CMD true",
        "ONBUILD RUN x",
        'SHELL ["sh"]',
        'CMD ["x"',
        "USER",
        "",
        "   ",
        "# comment",
        "\\",
        "${A:-b}",
        "ADD --chown=1 x y",
    ]
)


@given(st.lists(st.one_of(LINES, st.text(max_size=40)), max_size=30))
def test_any_input_parses_or_fails_cleanly(lines):
    try:
        parse("\n".join(lines))
    except DockerfileError:
        pass


# Not an identifier, so no error may name it: a "Dockerfile" may be a secret file.
SECRET = "s3cr3t.t0ken"
SECRET_LINES = st.sampled_from(
    [
        SECRET,
        f"{SECRET}=1",
        f"ENV A=1 {SECRET}",
        f"ARG ={SECRET}",
        f"# escape={SECRET}",
        f"RUN <<{SECRET}",
        f"FROM busybox AS {SECRET}",
        f"FROM busybox AS {SECRET}!",
        f"HEALTHCHECK --{SECRET}=1 CMD true",
        f"HEALTHCHECK --interval={SECRET} CMD true",
        f"HEALTHCHECK --retries={SECRET} CMD true",
        f"ONBUILD {SECRET}",
    ]
)


@given(st.lists(st.one_of(LINES, SECRET_LINES), max_size=12))
def test_errors_never_quote_the_file(lines):
    try:
        parse("\n".join(lines))
    except DockerfileError as failure:
        assert SECRET not in str(failure).lower()


def test_the_executor_has_a_step_for_every_instruction_the_parser_knows():
    from bb.dockerfile.parser import INSTRUCTIONS
    from bb.dockerfile_executor.stage import INSTRUCTION_STEPS

    # FROM starts a stage rather than being a step of one
    assert set(INSTRUCTION_STEPS) | {"FROM"} == INSTRUCTIONS
    assert "FROM" not in INSTRUCTION_STEPS
