""".dockerignore matching with Docker's rules."""

import pytest

from bb.dockerfile.dockerignore import DockerIgnore, read_dockerignore
from bb.errors import DockerfileError


@pytest.mark.parametrize(
    "patterns, path, excluded",
    [
        (["*.log"], "a.log", True),
        (["*.log"], "dir/a.log", False),
        (["**/*.log"], "dir/sub/a.log", True),
        (["**/*.log"], "a.log", True),
        (["/secret"], "secret", True),
        (["dir"], "dir/inside/file", True),
        (["dir/"], "dir/file", True),
        (["docs/*.md", "!docs/keep.md"], "docs/keep.md", False),
        (["docs/*.md", "!docs/keep.md"], "docs/other.md", True),
        (["docs", "!docs/keep.md"], "docs/keep.md", False),
        (["!keep", "*"], "keep", True),
        (["a?c"], "abc", True),
        (["a[0-9]"], "a5", True),
        (["# comment", "", "  spaced.txt  "], "spaced.txt", True),
        (["**"], "anything/at/all", True),
        # as in moby and containers/storage: ** before more pattern stands for whole
        # directories only
        (["**.log"], ".log", True),
        (["**.log"], "dir/.log", True),
        (["**.log"], "a.log", False),
        # [...] is negated by ^ only, as in Go: [!x] is the class of "!" and "x"
        (["[!x]"], "!", True),
        (["[!x]"], "y", False),
        (["[^x]"], "y", True),
    ],
)
def test_matching(patterns, path, excluded):
    assert DockerIgnore(patterns).is_excluded(path) is excluded


@pytest.mark.parametrize(
    "patterns, directory, descend",
    [
        (["docs", "!docs/keep.md"], "docs", True),
        (["docs"], "docs", False),
        (["**", "!folder/sub/file"], "folder", True),
        (["**", "!folder/sub/file"], "folder/sub", True),
        (["**", "!/folder/sub/file"], "folder/sub", True),
        (["**", "!folder/sub/file"], "other", False),
        # only an exception's text counts: a wildcard exception names nothing below an excluded
        # directory
        (["**/build", "!**/release"], "app/build", False),
        (["volume/", "!**/notes.txt"], "volume", False),
    ],
)
def test_excluded_directories_searched_for_exceptions(patterns, directory, descend):
    assert DockerIgnore(patterns).must_descend(directory) is descend


def test_read_and_limits(tmp_path):
    assert read_dockerignore(str(tmp_path)) is None
    (tmp_path / ".dockerignore").write_text("*.tmp\n")
    assert read_dockerignore(str(tmp_path)).is_excluded("x.tmp")
    (tmp_path / ".dockerignore").write_text("x\n" * 600_000)
    with pytest.raises(DockerfileError, match="1 MiB"):
        read_dockerignore(str(tmp_path))
    with pytest.raises(DockerfileError, match="bad pattern"):
        DockerIgnore(["[unterminated"])
