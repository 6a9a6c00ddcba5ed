"""Platforms (`linux/arm64`, `linux/arm/v7`): parsed, normalised and matched as containerd does."""

from __future__ import annotations

import platform as host_platform
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bb.errors import InvalidArgument

# uname machine (and the other common spellings) -> GOARCH, as containerd's platforms.Normalize
_ARCHITECTURES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "armhf": "arm",
    "armel": "arm",
    "armv7l": "arm",
    "armv6l": "arm",
    "i386": "386",
    "i686": "386",
}
# GOARCH -> uname machine, the name qemu-user's binfmt_misc handler has (qemu-aarch64, ...)
MACHINES = {
    "amd64": "x86_64",
    "arm64": "aarch64",
    "arm": "arm",
    "386": "i386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "mips64le": "mips64el",
    "loong64": "loongarch64",
}
_NAME = re.compile(r"[a-z0-9_.-]{1,32}")


def _normal_variant(architecture: str, variant: str) -> str:
    """containerd's spelling: arm64's v8 and amd64's v1 are the default (empty), arm's is v7."""
    variant = variant.lower()
    if variant.isdigit():
        variant = f"v{variant}"
    if architecture == "arm64" and variant in ("v8", "v8.0"):
        return ""
    if architecture == "amd64" and variant == "v1":
        return ""
    if architecture == "arm" and not variant:
        return "v7"
    return variant


@dataclass(frozen=True)
class Platform:
    """An OS, a GOARCH and its variant, normalised ("linux", "arm64", "")."""

    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def of(cls, os: str, architecture: str, variant: str = "") -> Platform:
        """The normalised platform (aarch64 -> arm64, arm64/v8 -> arm64, arm -> arm/v7)."""
        architecture = architecture.lower()
        if architecture in ("armel", "armv6l"):
            variant = variant or "v6"
        architecture = _ARCHITECTURES.get(architecture, architecture)
        return cls(os.lower(), architecture, _normal_variant(architecture, variant))

    @classmethod
    def host(cls) -> Platform:
        """This machine's platform."""
        machine = host_platform.machine()
        variant = {"armv7l": "v7", "armv6l": "v6"}.get(machine, "")
        return cls.of("linux", machine, variant)

    @classmethod
    def of_document(cls, document: Mapping[str, Any]) -> Platform:
        """The platform an image config or a descriptor's `platform` says (linux if no os)."""
        return cls.of(
            str(document.get("os") or "linux"),
            str(document.get("architecture") or ""),
            str(document.get("variant") or ""),
        )

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")

    def matches(self, document: Mapping[str, Any]) -> bool:
        """Whether an image (config or descriptor platform) is for this platform; with no variant
        wanted, any variant of the architecture is."""
        other = Platform.of_document(document)
        return (
            other.os == self.os
            and other.architecture == self.architecture
            and (not self.variant or other.variant == self.variant)
        )

    @property
    def machine(self) -> str:
        """The architecture as uname spells it (qemu's name for it)."""
        return MACHINES.get(self.architecture, self.architecture)


def parse_platform(text: str, flag: str = "--platform") -> Platform:
    """`OS/ARCH[/VARIANT]` (or `ARCH` alone, meaning linux) as a Platform."""
    parts = text.strip().split("/")
    if len(parts) == 1:
        parts = ["linux", *parts]
    if len(parts) > 3 or not all(_NAME.fullmatch(part.lower()) for part in parts):
        raise InvalidArgument(f'{flag} "{text[:80]}": expected OS/ARCH[/VARIANT], e.g. linux/arm64')
    return Platform.of(*parts)


def requested_platforms(
    platforms: list[str], arch: str | None, os: str | None, variant: str | None
) -> list[Platform]:
    """What `--platform P[,P...]` (repeatable) or `--arch/--os/--variant` ask for, in order;
    empty when nothing is asked (the host's platform, not asked for explicitly)."""
    texts = [text for value in platforms for text in value.split(",") if text.strip()]
    if texts and (arch or os or variant):
        raise InvalidArgument("give --platform or --arch/--os/--variant, not both")
    if not texts:
        if not (arch or os or variant):
            return []
        host = Platform.host()
        for flag, value in (("--arch", arch), ("--os", os), ("--variant", variant)):
            if value is not None and not _NAME.fullmatch(value.lower()):
                raise InvalidArgument(f'{flag} "{value[:80]}": not a platform name')
        return [
            Platform.of(
                os or host.os,
                arch or host.architecture,
                variant if variant is not None else ("" if arch else host.variant),
            )
        ]
    chosen: list[Platform] = []
    for text in texts:
        platform = parse_platform(text)
        if platform in chosen:
            raise InvalidArgument(f'--platform "{text}" is given twice')
        chosen.append(platform)
    return chosen


def requested_platform(
    platforms: list[str], arch: str | None, os: str | None, variant: str | None
) -> Platform | None:
    """The one platform `bb from`/`bb pull` are asked for (None: not asked)."""
    chosen = requested_platforms(platforms, arch, os, variant)
    if len(chosen) > 1:
        raise InvalidArgument("--platform: give one platform")
    return chosen[0] if chosen else None
