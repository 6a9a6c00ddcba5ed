"""Translate a containers-common seccomp profile into the OCI spec's linux.seccomp for this host."""

from __future__ import annotations

import os
import stat
from typing import Any

from bb.errors import InvalidArgument
from bb.system.limits import MAX_DOCUMENT_BYTES, parse_json_document, read_at_most

# The profile buildah and podman use; the Debian package golang-github-containers-common ships it.
DEFAULT_PROFILE = "/usr/share/containers/seccomp.json"
PROFILE_PACKAGE = "golang-github-containers-common"

# uname machine -> (the name profiles' includes/excludes use, the archMap entry's SCMP_ARCH),
# as libseccomp's native architecture and containers/common's nativeToSeccomp map them.
_NATIVE_ARCHES = {
    "x86_64": ("amd64", "SCMP_ARCH_X86_64"),
    "aarch64": ("arm64", "SCMP_ARCH_AARCH64"),
    "mips64": ("mips64", "SCMP_ARCH_MIPS64"),
    "s390x": ("s390x", "SCMP_ARCH_S390X"),
    "ppc64le": ("ppc64le", "SCMP_ARCH_PPC64LE"),
    "riscv64": ("riscv64", "SCMP_ARCH_RISCV64"),
}


def _kernel_at_least(version: str) -> bool:
    """Whether the running kernel is `version` ("major.minor") or newer."""

    def numbers(text: str) -> tuple[int, ...]:
        parts = []
        for part in text.split(".")[:2]:
            digits = "".join(c for c in part if c.isdigit()) or "0"
            parts.append(int(digits))
        return tuple(parts)

    return numbers(os.uname().release.split("-")[0]) >= numbers(version)


def _applies(syscall: dict[str, Any], arch: str, bounding: list[str]) -> bool:
    """containers/common's filter: excludes (arch, any cap held, minKernel met), then includes."""
    excludes = syscall.get("excludes") or {}
    includes = syscall.get("includes") or {}
    if arch in (excludes.get("arches") or []):
        return False
    if any(cap in bounding for cap in excludes.get("caps") or []):
        return False
    if excludes.get("minKernel") and _kernel_at_least(excludes["minKernel"]):
        return False
    if includes.get("arches") and arch not in includes["arches"]:
        return False
    if any(cap not in bounding for cap in includes.get("caps") or []):
        return False
    return not includes.get("minKernel") or _kernel_at_least(includes["minKernel"])


def _rule(names: list[str], syscall: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = {"names": names, "action": syscall["action"]}
    if syscall.get("errnoRet") is not None:
        rule["errnoRet"] = syscall["errnoRet"]
    args = []
    for arg in syscall.get("args") or []:
        # runtime-spec's Go types omit a zero valueTwo; written the same, bb's spec equals buildah's
        condition = {"index": arg["index"], "value": arg["value"], "op": arg["op"]}
        if arg.get("valueTwo"):
            condition["valueTwo"] = arg["valueTwo"]
        args.append(condition)
    if args:
        rule["args"] = args
    return rule


def translate_profile(
    profile: dict[str, Any], bounding: list[str], machine: str, what: str = "seccomp profile"
) -> dict[str, Any] | None:
    """linux.seccomp for a process with `bounding` capabilities on `machine` (None: no filter)."""
    if not profile.get("defaultAction") and not profile.get("syscalls"):
        return None
    if profile.get("architectures") and profile.get("archMap"):
        raise InvalidArgument(f"{what}: give 'architectures' or 'archMap', not both")
    arch, scmp_arch = _NATIVE_ARCHES.get(machine, (machine, ""))
    architectures = list(profile.get("architectures") or [])
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == scmp_arch:
            architectures += [entry["architecture"], *(entry.get("subArchitectures") or [])]
            break
    seccomp: dict[str, Any] = {"defaultAction": profile["defaultAction"]}
    if profile.get("defaultErrnoRet") is not None:
        seccomp["defaultErrnoRet"] = profile["defaultErrnoRet"]
    if architectures:
        seccomp["architectures"] = architectures
    rules = []
    for syscall in profile.get("syscalls") or []:
        if not _applies(syscall, arch, bounding):
            continue
        if syscall.get("name") and syscall.get("names"):
            raise InvalidArgument(f"{what}: a rule gives both 'name' and 'names'")
        names = [syscall["name"]] if syscall.get("name") else list(syscall.get("names") or [])
        if names:
            rules.append(_rule(names, syscall))
    seccomp["syscalls"] = rules
    return seccomp


def load_profile(path: str, bounding: list[str]) -> dict[str, Any] | None:
    """The seccomp profile at `path` as linux.seccomp for this host; a missing file is one clear
    error."""
    what = f"seccomp profile {path}"
    try:
        # O_NONBLOCK: a FIFO given as the profile is refused below, not waited on
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        hint = (
            f"install the Debian package {PROFILE_PACKAGE}, or " if path == DEFAULT_PROFILE else ""
        )
        raise InvalidArgument(
            f"seccomp profile {path}: no such file "
            f"({hint}run with --security-opt seccomp=unconfined)"
        ) from None
    except OSError as error:
        raise InvalidArgument(f"{what}: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as profile_file:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise InvalidArgument(f"{what}: not a regular file")
        data = read_at_most(profile_file, MAX_DOCUMENT_BYTES, what, InvalidArgument)
    profile = parse_json_document(data, what, InvalidArgument)
    try:
        return translate_profile(profile, bounding, os.uname().machine, what)
    except (KeyError, TypeError, AttributeError):
        raise InvalidArgument(f"{what}: not a containers seccomp profile") from None
