"""Variable expansion with Docker's rules."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bb.dockerfile.expand import (
    ExpansionError,
    expand,
    expand_heredoc,
    expand_words,
    split_words_keeping_quotes,
)

ENV = {"A": "x", "EMPTY": "", "SPACED": "a b"}


@pytest.mark.parametrize(
    "word, expected",
    [
        ("$A", "x"),
        ("${A}", "x"),
        ("pre${A}post", "prexpost"),
        ("$UNSET", ""),
        ("${UNSET:-def}", "def"),
        ("${EMPTY:-def}", "def"),
        ("${EMPTY-def}", ""),
        ("${UNSET-def}", "def"),
        ("${A:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("${UNSET:-${A:-z}}", "x"),
        ("${UNSET:-${ALSO:-z}}", "z"),
        ("'$A'", "$A"),
        ('"$A b"', "x b"),
        ("\\$A", "$A"),
        ('"\\"q\\""', '"q"'),
        ("$", "$"),
        ("a$", "a$"),
    ],
)
def test_expand(word, expected):
    assert expand(word, ENV) == expected


def test_words_split_outside_quotes_only():
    assert expand_words("a \"b c\" $SPACED 'd e'  ", ENV) == ["a", "b c", "a b", "d e"]


def test_escape_character():
    assert expand("`$A", ENV, escape="`") == "$A"
    assert expand("C:\\dir", ENV, escape="`") == "C:\\dir"


def test_heredoc_keeps_quotes():
    assert expand_heredoc("say \"$A\" 'and' \\$A\n", ENV) == "say \"x\" 'and' $A\n"


@pytest.mark.parametrize(
    "word, message",
    [
        ("${A", "missing '}'"),
        ("${UNSET:?must be set}", "UNSET is not allowed to be unset"),
        ("'open", "single-quote"),
        ('"open', "double-quote"),
        ("${A%x}", "unsupported modifier"),
        ("${}", "missing variable name"),
    ],
)
def test_errors(word, message):
    with pytest.raises(ExpansionError, match=message):
        expand(word, ENV)


def test_deep_nesting_is_refused():
    word = "${U:-" * 150 + "x" + "}" * 150
    with pytest.raises(ExpansionError, match="nested"):
        expand(word, ENV)


def test_split_keeping_quotes():
    assert split_words_keeping_quotes('a="b c" d') == ['a="b c"', "d"]


@given(st.text(alphabet="${}:-+?'\"\\ ab", max_size=60))
def test_any_word_expands_or_fails_cleanly(word):
    try:
        expand_words(word, ENV)
    except ExpansionError:
        pass
