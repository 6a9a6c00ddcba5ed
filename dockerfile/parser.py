"""Parse a Dockerfile into stages of instructions, with the line each starts on.

Follows BuildKit's parser: directives (`# escape=`, `# syntax=`) at the top,
comments, line continuations with the escape character, JSON (exec) and
shell forms, leading `--flag=value` options, and heredocs (`RUN <<EOF`).
Variables are not expanded here: which instructions expand them, and with
what values, is the executor's business (see `expand.py`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from bb.dockerfile.context import read_build_file
from bb.dockerfile.expand import ExpansionError, nameable, split_words_keeping_quotes
from bb.errors import DockerfileError

MAX_DOCKERFILE_SIZE = 1 << 20
MAX_STAGE_NAME = 64

INSTRUCTIONS = frozenset(
    {
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    }
)
# Instructions whose arguments may start with --flag options.
TAKES_FLAGS = frozenset({"ADD", "COPY", "FROM", "HEALTHCHECK", "RUN"})
# Instructions that may carry heredocs.
TAKES_HEREDOCS = frozenset({"ADD", "COPY", "RUN"})
# Instructions with an exec (JSON) form; a failed JSON parse means shell form.
EXEC_FORM = frozenset({"CMD", "ENTRYPOINT", "RUN", "SHELL", "ADD", "COPY", "VOLUME"})
FORBIDDEN_IN_ONBUILD = frozenset({"ONBUILD", "FROM", "MAINTAINER"})

_DIRECTIVE = re.compile(r"#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC = re.compile(r"<<(-?)\s*(?:\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_][A-Za-z0-9_.\-]*))")
_STAGE_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_KEYWORD_LIKE = re.compile(r"[A-Za-z]{1,20}")


@dataclass(frozen=True)
class Heredoc:
    """A here-document attached to RUN, COPY or ADD."""

    name: str
    content: str
    #: whether variables in it are expanded (its delimiter was not quoted)
    expand: bool
    strip_tabs: bool


@dataclass
class Instruction:
    """One instruction, as written."""

    keyword: str
    line: int
    original: str
    #: `--name=value` options (value None for a bare `--name`), in order
    flags: list[tuple[str, str | None]] = field(default_factory=list)
    #: the text after the keyword and flags
    arguments: str = ""
    #: the arguments as a list when written in JSON (exec) form
    json_arguments: list[str] | None = None
    heredocs: list[Heredoc] = field(default_factory=list)
    #: for ONBUILD: the trigger instruction
    trigger: Instruction | None = None

    def flag(self, name: str) -> str | None:
        """The value of the last `--name` option, if given."""
        values = [value for flag_name, value in self.flags if flag_name == name]
        return values[-1] if values else None

    @property
    def text_without_heredocs(self) -> str:
        """The arguments with `<<NAME` markers removed (what is left of the command or paths)."""
        return _HEREDOC.sub("", self.arguments).strip()


@dataclass
class Stage:
    """FROM and the instructions after it."""

    index: int
    name: str | None
    from_instruction: Instruction
    instructions: list[Instruction] = field(default_factory=list)

    @property
    def base(self) -> str:
        """The image (or earlier stage) this stage starts from, unexpanded."""
        return split_words_keeping_quotes(self.from_instruction.arguments)[0]


@dataclass
class Dockerfile:
    """A parsed Dockerfile."""

    path: str
    escape: str
    directives: dict[str, str]
    #: ARG instructions before the first FROM
    meta_args: list[Instruction]
    stages: list[Stage]


def read_dockerfile(
    path: str, display_name: str | None = None, context_dir: str | None = None
) -> Dockerfile:
    """Read and parse the Dockerfile at `path` (see read_build_file: regular, at most 1 MiB, in the
    context)."""
    name = display_name or path
    data = read_build_file(path, name, MAX_DOCKERFILE_SIZE, context_dir)
    if b"\0" in data:
        raise DockerfileError(name, 0, "not a text file (it holds NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as failure:
        raise DockerfileError(
            name, 0, f"not UTF-8 text ({failure.reason} at byte {failure.start})"
        ) from None
    return parse(text, name)


class _Parser:
    def __init__(self, text: str, path: str):
        self.lines = text.splitlines()
        self.path = path
        self.escape = "\\"
        self.directives: dict[str, str] = {}
        self.position = 0

    def fail(self, line: int, message: str) -> DockerfileError:
        return DockerfileError(self.path, line, message)

    def read_directives(self) -> None:
        while self.position < len(self.lines):
            match = _DIRECTIVE.fullmatch(self.lines[self.position].strip())
            if not match:
                return
            name, value = match.group(1).lower(), match.group(2)
            if name in self.directives:
                raise self.fail(
                    self.position + 1,
                    f"directive {name} given twice"
                    if nameable(name)
                    else "a directive given twice",
                )
            if name == "escape":
                if value not in ("\\", "`"):
                    raise self.fail(self.position + 1, "invalid escape character: use \\ or `")
                self.escape = value
            self.directives[name] = value
            self.position += 1

    def _continues(self, line: str) -> bool:
        stripped = line.rstrip()
        return stripped.endswith(self.escape)

    def _next_content_line(self) -> str | None:
        """The next line that is neither blank nor a comment (skipped inside continuations too)."""
        while self.position < len(self.lines):
            line = self.lines[self.position]
            self.position += 1
            if line.strip() and not line.strip().startswith("#"):
                return line
        return None

    def instructions(self) -> list[Instruction]:
        parsed: list[Instruction] = []
        while True:
            line = self._next_content_line()
            if line is None:
                return parsed
            start = self.position
            parts = []
            while line is not None and self._continues(line):
                parts.append(line.rstrip()[:-1])
                line = self._next_content_line()
            parts.append(line or "")
            parsed.append(self.instruction("".join(parts), start))

    def instruction(self, text: str, line: int, nested: bool = False) -> Instruction:
        keyword, _, rest = text.strip().partition(" ")
        if "\t" in keyword:
            keyword, _, tail = keyword.partition("\t")
            rest = tail + " " + rest
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword not in INSTRUCTIONS:
            # only a word that looks like a keyword is named: the line may be someone's secret
            shown = (
                f": {keyword}"
                if _KEYWORD_LIKE.fullmatch(keyword)
                else " (the line does not start with one)"
            )
            raise self.fail(line, f"unknown instruction{shown}")
        instruction = Instruction(keyword=keyword, line=line, original=text.strip())
        if keyword == "ONBUILD":
            if not rest:
                raise self.fail(line, "ONBUILD requires an instruction")
            trigger = self.instruction(rest, line, nested=True)
            if trigger.keyword in FORBIDDEN_IN_ONBUILD:
                raise self.fail(line, f"{trigger.keyword} is not allowed as an ONBUILD trigger")
            instruction.trigger = trigger
            instruction.arguments = rest
            return instruction
        if keyword in TAKES_FLAGS:
            rest = self._take_flags(instruction, rest)
        instruction.arguments = rest
        if keyword in TAKES_HEREDOCS and not nested:
            self._take_heredocs(instruction)
        if keyword in EXEC_FORM and rest.startswith("["):
            try:
                value = json.loads(rest)
            except json.JSONDecodeError:
                value = None
            if isinstance(value, list) and all(isinstance(item, str) for item in value):
                instruction.json_arguments = value
        self._check(instruction)
        return instruction

    def _take_flags(self, instruction: Instruction, rest: str) -> str:
        while rest.startswith("--"):
            token, _, remainder = rest.partition(" ")
            name, equals, value = token[2:].partition("=")
            if not name:
                break
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            instruction.flags.append((name, value if equals else None))
            rest = remainder.strip()
        return rest

    def _take_heredocs(self, instruction: Instruction) -> None:
        unquoted = _unquoted_regions(instruction.arguments)
        starts = [m.start() for m in re.finditer("<<", unquoted)]
        matches = [_HEREDOC.match(instruction.arguments, start) for start in starts]
        for match in [m for m in matches if m is not None]:
            strip_tabs = match.group(1) == "-"
            quoted_name = match.group(2) if match.group(2) is not None else match.group(3)
            name = quoted_name if quoted_name is not None else match.group(4)
            body: list[str] = []
            while True:
                if self.position >= len(self.lines):
                    raise self.fail(
                        instruction.line,
                        f"heredoc <<{name if nameable(name) else '...'} is not terminated",
                    )
                line = self.lines[self.position]
                self.position += 1
                candidate = line.lstrip("\t") if strip_tabs else line
                if candidate == name:
                    break
                body.append(candidate)
            content = "".join(part + "\n" for part in body)
            instruction.heredocs.append(
                Heredoc(name, content, expand=quoted_name is None, strip_tabs=strip_tabs)
            )

    def _check(self, instruction: Instruction) -> None:
        """Instruction-specific checks that need no variable values."""
        keyword, line, arguments = instruction.keyword, instruction.line, instruction.arguments
        try:
            words = split_words_keeping_quotes(arguments, self.escape)
        except ExpansionError as failure:
            raise self.fail(line, f"{keyword}: {failure}") from None
        if not arguments and keyword not in ("CMD", "ENTRYPOINT"):
            raise self.fail(line, f"{keyword} requires at least one argument")
        if keyword == "FROM":
            if len(words) not in (1, 3) or (len(words) == 3 and words[1].upper() != "AS"):
                raise self.fail(line, "FROM requires an image and optionally AS <name>")
            if len(words) == 3:
                _check_stage_name(self, words[2], line)
        elif keyword in ("COPY", "ADD"):
            paths = instruction.json_arguments if instruction.json_arguments is not None else words
            needed = 1 if instruction.heredocs else 2
            if len(paths) < needed:
                raise self.fail(line, f"{keyword} requires at least one source and a destination")
        elif keyword == "SHELL":
            if not instruction.json_arguments:
                raise self.fail(
                    line,
                    (
                        "SHELL requires the arguments as a non-empty JSON array, "
                        'e.g. ["/bin/sh", "-c"]'
                    ),
                )
        elif keyword in ("ENV", "LABEL"):
            if keyword == "LABEL" and any("=" not in word for word in words):
                raise self.fail(line, "LABEL requires KEY=VALUE pairs")
            if keyword == "ENV" and "=" not in words[0] and len(words) < 2:
                raise self.fail(line, "ENV requires a value: ENV KEY=VALUE or ENV KEY VALUE")
            for word in words if "=" in words[0] else []:
                if "=" not in word or word.startswith("="):
                    raise self.fail(line, f"{keyword}: expected KEY=VALUE pairs")
        elif keyword == "ARG":
            for word in words:
                if word.startswith("="):
                    raise self.fail(line, "ARG: a name is missing before '='")
        elif keyword == "HEALTHCHECK":
            from bb.dockerfile.instructions import parse_healthcheck

            parse_healthcheck(instruction, self.path)
        elif keyword in ("WORKDIR", "USER", "STOPSIGNAL", "MAINTAINER") and not words:
            raise self.fail(line, f"{keyword} requires an argument")


def _check_stage_name(parser: _Parser, name: str, line: int) -> None:
    lowered = name.lower()
    if len(lowered) > MAX_STAGE_NAME:
        raise parser.fail(line, f"stage name is longer than {MAX_STAGE_NAME} characters")
    if not _STAGE_NAME.fullmatch(lowered):
        raise parser.fail(line, "invalid stage name: use letters, digits, '-', '_' and '.'")


def _unquoted_regions(text: str) -> str:
    """`text` with quoted parts blanked, so `<<` inside quotes is not taken for a heredoc."""
    result = []
    quote = ""
    for character in text:
        if quote:
            result.append(" ")
            if character == quote:
                quote = ""
        elif character in "'\"":
            quote = character
            result.append(" ")
        else:
            result.append(character)
    return "".join(result)


def parse_instruction(text: str, path: str, line: int, escape: str = "\\") -> Instruction:
    """Parse one instruction on its own (an ONBUILD trigger inherited from a base image)."""
    parser = _Parser("", path)
    parser.escape = escape
    return parser.instruction(text, line, nested=True)


def parse(text: str, path: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile text; any problem is a DockerfileError naming the line."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DOCKERFILE_SIZE:
        raise DockerfileError(
            path, 0, f"file is larger than the {MAX_DOCKERFILE_SIZE}-byte (1 MiB) limit"
        )
    parser = _Parser(text, path)
    parser.read_directives()
    instructions = parser.instructions()
    meta_args: list[Instruction] = []
    stages: list[Stage] = []
    names: dict[str, int] = {}
    for instruction in instructions:
        if instruction.keyword == "FROM":
            words = split_words_keeping_quotes(instruction.arguments, parser.escape)
            name = words[2].lower() if len(words) == 3 else None
            if name is not None:
                if name in names:
                    raise parser.fail(
                        instruction.line, f"duplicate stage name (line {names[name]} has it too)"
                    )
                names[name] = instruction.line
            stages.append(Stage(len(stages), name, instruction))
        elif not stages:
            if instruction.keyword != "ARG":
                raise parser.fail(
                    instruction.line,
                    f"{instruction.keyword} before the first FROM (only ARG may come before it)",
                )
            meta_args.append(instruction)
        else:
            stages[-1].instructions.append(instruction)
    if not stages:
        raise DockerfileError(path, 0, "no FROM instruction")
    return Dockerfile(path, parser.escape, parser.directives, meta_args, stages)
