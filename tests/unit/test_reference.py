"""Image reference parsing and normalisation."""

import pytest

from bb.errors import InvalidArgument
from bb.image.reference import matches_repository_filter, parse_reference


@pytest.mark.parametrize(
    "text, expected",
    [
        ("busybox", "localhost/busybox:latest"),
        ("busybox:1.36", "localhost/busybox:1.36"),
        ("library/busybox", "localhost/library/busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        ("127.0.0.1:5000/team/app:v2", "127.0.0.1:5000/team/app:v2"),
        ("localhost/app", "localhost/app:latest"),
        ("quay.io/a/b/c@sha256:" + "a" * 64, "quay.io/a/b/c@sha256:" + "a" * 64),
        ("my-app_1.x", "localhost/my-app_1.x:latest"),
    ],
)
def test_normalised(text, expected):
    assert str(parse_reference(text)) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("Busybox", "lowercase"),
        ("app:bad tag", "bad tag"),
        ("app@sha256:short", "bad digest"),
        ("-app", "bad repository"),
        ("a//b", "bad repository"),
        ("x" * 300, "longer than"),
    ],
)
def test_invalid(text, message):
    with pytest.raises(InvalidArgument, match=message):
        parse_reference(text)


def test_repository_filter():
    assert matches_repository_filter("docker.io/library/busybox:latest", "busybox")
    assert matches_repository_filter("localhost/busybox:1.0", "busybox")
    assert not matches_repository_filter("localhost/busybox:1.0", "busybox:2.0")
    assert matches_repository_filter("localhost/busybox:1.0", "localhost/busybox:1.0")
    assert not matches_repository_filter("quay.io/x/busybox:latest", "localhost/busybox")
