"""Variable expansion with Docker's shell-lexer rules (quotes, escapes, ${VAR:-default} ...)."""

from __future__ import annotations

import re
from collections.abc import Mapping

# Nesting of ${...} inside ${...}, and the size of one expansion, are bounded
# so hostile input cannot recurse or blow up.
MAX_NESTING = 100
MAX_EXPANSION = 1 << 20
_NAME_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_NAME_CHARS = _NAME_START + "0123456789"
_BLANKS = " \t\r\n"
# What of a Dockerfile an error message may quote: a short identifier, never free text (the
# "Dockerfile" may be a secret file, and build logs are often public).
_NAMEABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,31}")


def nameable(text: str) -> bool:
    """Whether an error message may quote `text` from a Dockerfile (a short identifier)."""
    return bool(_NAMEABLE.fullmatch(text))


def _named(prefix: str, name: str) -> str:
    return f"{prefix} {name}" if nameable(name) else prefix


class ExpansionError(ValueError):
    """A word cannot be expanded (unterminated quote or brace, ${VAR:?message}, too deep)."""


class _Lexer:
    def __init__(
        self, text: str, env: Mapping[str, str], escape: str, depth: int = 0, quotes: bool = True
    ):
        if depth > MAX_NESTING:
            raise ExpansionError(f"variable substitutions nested more than {MAX_NESTING} deep")
        self.text = text
        self.env = env
        self.escape = escape
        self.depth = depth
        self.quotes = quotes
        self.position = 0

    def _peek(self) -> str:
        return self.text[self.position] if self.position < len(self.text) else ""

    def _take(self) -> str:
        character = self._peek()
        self.position += 1
        return character

    def words(self, split: bool) -> list[str]:
        words: list[str] = []
        current: list[str] = []
        in_word = False
        size = 0
        while self.position < len(self.text):
            character = self._peek()
            if split and character in _BLANKS:
                self.position += 1
                if in_word:
                    words.append("".join(current))
                    current, in_word = [], False
                continue
            in_word = True
            if character == self.escape and self.quotes:
                self.position += 1
                current.append(self._take() if self.position < len(self.text) else self.escape)
            elif character == self.escape:
                # in heredocs only `$` is escaped; other escapes stay for the file's reader
                self.position += 1
                following = self._take()
                current.append(following if following == "$" else self.escape + following)
            elif character == "'" and self.quotes:
                current.append(self._single_quoted())
            elif character == '"' and self.quotes:
                current.append(self._double_quoted())
            elif character == "$":
                current.append(self._dollar())
            else:
                current.append(self._take())
            size += len(current[-1])
            if size > MAX_EXPANSION:
                raise ExpansionError(f"expansion longer than {MAX_EXPANSION} characters")
        if in_word:
            words.append("".join(current))
        return words

    def _single_quoted(self) -> str:
        self.position += 1
        end = self.text.find("'", self.position)
        if end < 0:
            raise ExpansionError(
                "unexpected end of statement while looking for matching single-quote"
            )
        quoted = self.text[self.position : end]
        self.position = end + 1
        return quoted

    def _double_quoted(self) -> str:
        self.position += 1
        parts: list[str] = []
        while True:
            if self.position >= len(self.text):
                raise ExpansionError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            character = self._peek()
            if character == '"':
                self.position += 1
                return "".join(parts)
            if character == self.escape:
                self.position += 1
                following = self._take()
                parts.append(
                    following if following in ('"', "$", self.escape) else self.escape + following
                )
            elif character == "$":
                parts.append(self._dollar())
            else:
                parts.append(self._take())

    def _name(self) -> str:
        start = self.position
        while self._peek() and self._peek() in _NAME_CHARS:
            self.position += 1
        return self.text[start : self.position]

    def _dollar(self) -> str:
        self.position += 1
        following = self._peek()
        if following == "{":
            self.position += 1
            return self._braced()
        if following and following in _NAME_START:
            return self._plain(self._name())
        return "$"

    def _plain(self, name: str) -> str:
        """A plain $NAME / ${NAME}: unknown names are empty; the mapping may refuse a name it knows
        has no value."""
        try:
            return self.env[name]
        except KeyError:
            return ""

    def _braced(self) -> str:
        name = self._name()
        if not name:
            raise ExpansionError("bad substitution: missing variable name after ${")
        operator = self._take()
        if not operator:
            raise ExpansionError("missing '}' in variable substitution")
        if operator == "}":
            return self._plain(name)
        if operator == ":":
            operator += self._take()
        if operator not in (":-", "-", ":+", "+", ":?", "?"):
            raise ExpansionError(_named("unsupported modifier in the substitution of", name))
        word = self._braced_word()
        value = self.env.get(name)
        empty_counts = operator.startswith(":")
        unset = value is None or (empty_counts and value == "")
        kind = operator[-1]
        if kind == "-":
            return word if unset else value  # type: ignore[return-value]
        if kind == "+":
            return "" if unset else word
        if unset:
            # the ${NAME:?message} text is not shown: errors never quote the file
            raise ExpansionError(f"{_named('variable', name)} is not allowed to be unset")
        return value  # type: ignore[return-value]

    def _braced_word(self) -> str:
        """The (expanded) word of ${NAME:-word}, up to the matching brace."""
        start = self.position
        depth = 0
        while True:
            character = self._take()
            if not character:
                raise ExpansionError("missing '}' in variable substitution")
            if character == self.escape:
                self.position += 1
            elif character == "{" and self.text[self.position - 2 : self.position - 1] == "$":
                depth += 1
            elif character == "}":
                if depth == 0:
                    break
                depth -= 1
        raw = self.text[start : self.position - 1]
        return "".join(_Lexer(raw, self.env, self.escape, self.depth + 1).words(split=False))


def expand(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Expand one word (quotes removed, nothing split), as Docker's ProcessWord."""
    return "".join(_Lexer(word, env, escape).words(split=False))


def expand_heredoc(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Expand variables in a heredoc body; quotes are ordinary characters there."""
    return "".join(_Lexer(text, env, escape, quotes=False).words(split=False))


def expand_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Expand and split on unquoted blanks, as Docker's ProcessWords."""
    return _Lexer(text, env, escape).words(split=True)


def split_words_keeping_quotes(text: str, escape: str = "\\") -> list[str]:
    """Split on unquoted blanks, leaving quotes and escapes for a later expand()."""
    words: list[str] = []
    current: list[str] = []
    quote = ""
    position = 0
    while position < len(text):
        character = text[position]
        if character == escape and position + 1 < len(text) and quote != "'":
            current.append(text[position : position + 2])
            position += 2
            continue
        if quote:
            if character == quote:
                quote = ""
        elif character in "'\"":
            quote = character
        elif character in _BLANKS:
            if current:
                words.append("".join(current))
                current = []
            position += 1
            continue
        current.append(character)
        position += 1
    if quote:
        raise ExpansionError(f"unterminated {quote} quote")
    if current:
        words.append("".join(current))
    return words
