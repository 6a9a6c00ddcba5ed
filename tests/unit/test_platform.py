"""Platforms: parsed and normalised (as containerd), chosen from a list; the binfmt_misc check."""

import json

import pytest

from bb.errors import ArchiveError, EmulationUnavailable, InvalidArgument
from bb.image.manifest import choose_platform
from bb.image.platform import Platform, parse_platform, requested_platforms
from bb.system import host


@pytest.mark.parametrize(
    "text, expected",
    [
        ("linux/arm64", Platform("linux", "arm64")),
        ("linux/arm64/v8", Platform("linux", "arm64")),
        ("linux/aarch64", Platform("linux", "arm64")),
        ("linux/x86_64", Platform("linux", "amd64")),
        ("linux/arm", Platform("linux", "arm", "v7")),
        ("linux/arm/6", Platform("linux", "arm", "v6")),
        ("arm64", Platform("linux", "arm64")),
        ("Linux/AMD64", Platform("linux", "amd64")),
    ],
)
def test_parsed_and_normalised(text, expected):
    assert parse_platform(text) == expected


@pytest.mark.parametrize("text", ["", "linux/", "linux/arm64/v8/x", "linux/$(id)", "a/" + "b" * 40])
def test_malformed_platform_is_refused(text):
    with pytest.raises(InvalidArgument, match="--platform"):
        parse_platform(text)


def test_requested_platforms():
    assert requested_platforms(["linux/amd64,linux/arm64"], None, None, None) == [
        Platform("linux", "amd64"),
        Platform("linux", "arm64"),
    ]
    assert requested_platforms([], "arm", None, "v6") == [Platform("linux", "arm", "v6")]
    assert requested_platforms([], None, None, None) == []
    with pytest.raises(InvalidArgument, match="not both"):
        requested_platforms(["linux/arm64"], "arm64", None, None)
    with pytest.raises(InvalidArgument, match="twice"):
        requested_platforms(["linux/arm64", "linux/aarch64"], None, None, None)


def test_matching_ignores_the_default_variant():
    arm64 = Platform("linux", "arm64")
    assert arm64.matches({"architecture": "arm64", "os": "linux", "variant": "v8"})
    assert arm64.matches({"architecture": "arm64"})
    assert not arm64.matches({"architecture": "amd64", "os": "linux"})
    assert not Platform("linux", "arm", "v7").matches({"architecture": "arm", "variant": "v6"})


def _index(*platforms: dict) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {"mediaType": "m", "digest": f"sha256:{n:064x}", "size": 1, "platform": p}
                for n, p in enumerate(platforms)
            ],
        }
    ).encode()


def test_choose_platform_from_a_list():
    data = _index(
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm", "os": "linux", "variant": "v6"},
        {"architecture": "arm", "os": "linux", "variant": "v7"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"},
    )
    assert choose_platform(data, Platform("linux", "arm64")).digest.endswith("3")
    assert choose_platform(data, parse_platform("linux/arm")).digest.endswith("2")
    with pytest.raises(ArchiveError, match="no image for linux/s390x"):
        choose_platform(data, Platform("linux", "s390x"))


def _binfmt(tmp_path, monkeypatch, entry: str | None, mounted: bool = True):
    directory = tmp_path / "binfmt_misc"
    directory.mkdir()
    if mounted:
        (directory / "status").write_text("enabled\n")
    if entry is not None:
        (directory / "qemu-aarch64").write_text(entry)
    monkeypatch.setattr(host, "BINFMT_MISC", str(directory))
    monkeypatch.setattr(host.Platform, "host", classmethod(lambda cls: Platform("linux", "amd64")))


REGISTERED = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: {}\noffset 0\n"
ARM64 = Platform("linux", "arm64")


def test_emulation_with_the_f_flag_is_accepted(tmp_path, monkeypatch):
    _binfmt(tmp_path, monkeypatch, REGISTERED.format("PF"))
    host.check_emulation(ARM64)
    host.check_emulation(Platform("linux", "amd64"))  # native
    host.check_emulation(Platform("linux", "386"))  # the kernel's 32-bit compat mode


@pytest.mark.parametrize(
    "entry, mounted, says",
    [
        (None, False, "binfmt_misc is not mounted"),
        (None, True, "no qemu-aarch64 handler is registered"),
        (REGISTERED.format("P"), True, "without the F (fix binary) flag"),
        (REGISTERED.format("PF").replace("enabled", "disabled"), True, "is disabled"),
    ],
)
def test_emulation_missing_says_what_to_do(tmp_path, monkeypatch, entry, mounted, says):
    _binfmt(tmp_path, monkeypatch, entry, mounted)
    with pytest.raises(EmulationUnavailable) as raised:
        host.check_emulation(ARM64)
    message = str(raised.value)
    assert says in message
    assert "linux/arm64" in message and "update-binfmts --enable qemu-aarch64" in message
