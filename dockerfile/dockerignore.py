""".dockerignore: which context paths COPY and ADD leave out, with Docker's pattern rules.

Patterns use Go's filepath.Match syntax plus `**` for any number of
directories; later patterns win; `!` re-includes; a pattern that matches a
directory excludes everything below it. This is how containers/storage's
fileutils.PatternMatcher (moby's, which buildah's copier uses) matches.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass

from bb.dockerfile.context import read_build_file
from bb.errors import DockerfileError

MAX_DOCKERIGNORE_SIZE = 1 << 20


@dataclass(frozen=True)
class _Pattern:
    text: str
    exclusion: bool
    regex: re.Pattern[str]


def _compile(pattern: str) -> re.Pattern[str]:
    """Translate a .dockerignore pattern to a regex over `/`-separated relative paths."""
    out = ["^"]
    position = 0
    while position < len(pattern):
        character = pattern[position]
        if character == "*":
            if pattern[position : position + 2] == "**":
                position += 2
                if pattern[position : position + 1] == "/":
                    position += 1
                # as moby: a trailing ** is anything, any other ** any number of leading directories
                out.append(".*" if position == len(pattern) else "(?:.*/)?")
                continue
            out.append("[^/]*")
        elif character == "?":
            out.append("[^/]")
        elif character == "[":
            end = pattern.find("]", position + 1)
            if end < 0:
                raise ValueError("unterminated [")
            # negated with ^ only, as in Go (a leading ! is one of the characters)
            out.append("[" + pattern[position + 1 : end].replace("\\", "\\\\") + "]")
            position = end
        elif character == "\\" and position + 1 < len(pattern):
            position += 1
            out.append(re.escape(pattern[position]))
        else:
            out.append(re.escape(character))
        position += 1
    out.append("$")
    return re.compile("".join(out), re.DOTALL)


class DockerIgnore:
    """The parsed patterns of one .dockerignore."""

    def __init__(self, lines: list[str], source: str = ".dockerignore"):
        self.patterns: list[_Pattern] = []
        for number, line in enumerate(lines, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            exclusion = text.startswith("!")
            if exclusion:
                text = text[1:].strip()
            cleaned = posixpath.normpath(text).lstrip("/")
            if cleaned in ("", "."):
                continue
            try:
                regex = _compile(cleaned)
            except (ValueError, re.error) as failure:
                raise DockerfileError(source, number, f"bad pattern: {failure}") from None
            self.patterns.append(_Pattern(cleaned, exclusion, regex))

    def is_excluded(self, path: str) -> bool:
        """Whether `path` in the context is left out (it or a parent matches, last pattern wins)."""
        path = posixpath.normpath(path).lstrip("/")
        parents = path.split("/")[:-1]
        matched = False
        for pattern in self.patterns:
            # an exception only matters once something matched, an exclusion only before
            if pattern.exclusion != matched:
                continue
            match = bool(pattern.regex.match(path))
            if not match:
                match = any(
                    pattern.regex.match("/".join(parents[:depth]))
                    for depth in range(1, len(parents) + 1)
                )
            if match:
                matched = not pattern.exclusion
        return matched

    def must_descend(self, path: str) -> bool:
        """Whether excluded directory `path` is searched for re-included paths (an exception's text
        lies below it).

        Only the text counts, as in buildah and docker: `!**/keep` re-includes no file of an
        excluded directory. (Compared by whole path components; buildah's walk compares plain
        strings.)
        """
        below = posixpath.normpath(path).strip("/") + "/"
        return any(
            pattern.exclusion and (pattern.text + "/").startswith(below)
            for pattern in self.patterns
        )


def read_dockerignore(context_dir: str) -> DockerIgnore | None:
    """The context's .dockerignore if it has one: a regular file of at most 1 MiB in the context."""
    path = os.path.join(context_dir, ".dockerignore")
    if not os.path.lexists(path):
        return None
    data = read_build_file(path, path, MAX_DOCKERIGNORE_SIZE, context_dir)
    return DockerIgnore(data.decode("utf-8", errors="replace").splitlines(), path)
