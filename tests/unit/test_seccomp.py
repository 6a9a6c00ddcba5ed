"""Translating a containers seccomp profile into linux.seccomp, as containers/common does."""

import json
import os

import pytest

from bb.errors import InvalidArgument
from bb.runtime import seccomp
from bb.runtime.seccomp import DEFAULT_PROFILE, load_profile, translate_profile

PROFILE = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 38,
    "archMap": [
        {
            "architecture": "SCMP_ARCH_X86_64",
            "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        },
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
    ],
    "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "args": [], "comment": ""},
        {
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
        },
        {
            "names": ["arch_prctl"],
            "action": "SCMP_ACT_ALLOW",
            "includes": {"arches": ["amd64", "x32"]},
        },
        {"names": ["bpf"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
        {
            "names": ["bpf"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "excludes": {"caps": ["CAP_SYS_ADMIN"]},
        },
        {"names": ["old_call"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "1.0"}},
        {"names": ["new_call"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "1.0"}},
        {"names": ["future_call"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "999.0"}},
        {"name": "single", "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["arm64"]}},
    ],
}


def names(translated):
    return [(rule["names"], rule["action"]) for rule in translated["syscalls"]]


def test_rules_follow_arch_caps_and_kernel():
    translated = translate_profile(PROFILE, ["CAP_CHOWN"], "x86_64")
    assert translated["defaultAction"] == "SCMP_ACT_ERRNO" and translated["defaultErrnoRet"] == 38
    assert translated["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert names(translated) == [
        (["read", "write"], "SCMP_ACT_ALLOW"),
        (["personality"], "SCMP_ACT_ALLOW"),
        (["arch_prctl"], "SCMP_ACT_ALLOW"),
        (["bpf"], "SCMP_ACT_ERRNO"),
        (["new_call"], "SCMP_ACT_ALLOW"),
        (["single"], "SCMP_ACT_ALLOW"),
    ]
    # a zero valueTwo is left out, as runtime-spec's Go types write it (and buildah's spec has it)
    assert translated["syscalls"][1]["args"] == [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]
    assert translated["syscalls"][3]["errnoRet"] == 1
    with_admin = translate_profile(PROFILE, ["CAP_CHOWN", "CAP_SYS_ADMIN"], "aarch64")
    assert with_admin["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert (["bpf"], "SCMP_ACT_ALLOW") in names(with_admin)
    assert (["arch_prctl"], "SCMP_ACT_ALLOW") not in names(with_admin)
    assert (["single"], "SCMP_ACT_ALLOW") not in names(with_admin)


def test_malformed_profiles_are_one_error(tmp_path):
    with pytest.raises(InvalidArgument, match="not both"):
        translate_profile({**PROFILE, "architectures": ["SCMP_ARCH_X86_64"]}, [], "x86_64")
    with pytest.raises(InvalidArgument, match="'name' and 'names'"):
        translate_profile(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ERRNO"}],
            },
            [],
            "x86_64",
        )
    assert translate_profile({}, [], "x86_64") is None
    for text, message in [
        ("[]", "not a JSON object"),
        ("{", "not valid JSON"),
        ('{"syscalls": [{"names": ["a"]}]}', "not a containers seccomp profile"),
    ]:
        path = tmp_path / "profile.json"
        path.write_text(text)
        with pytest.raises(InvalidArgument, match=message):
            load_profile(str(path), [])


def test_a_missing_default_profile_names_its_package(tmp_path, monkeypatch):
    missing = str(tmp_path / "seccomp.json")
    monkeypatch.setattr(seccomp, "DEFAULT_PROFILE", missing)
    with pytest.raises(InvalidArgument) as caught:
        load_profile(missing, [])
    assert str(caught.value) == (
        f"seccomp profile {missing}: no such file (install the Debian package "
        "golang-github-containers-common, or run with --security-opt seccomp=unconfined)"
    )


@pytest.mark.skipif(
    not os.path.exists(DEFAULT_PROFILE), reason="containers-common is not installed"
)
def test_the_installed_profile_translates():
    translated = load_profile(DEFAULT_PROFILE, ["CAP_CHOWN", "CAP_SYS_CHROOT"])
    allowed = {
        name
        for rule in translated["syscalls"]
        if rule["action"] == "SCMP_ACT_ALLOW"
        for name in rule["names"]
    }
    assert {"read", "execve", "chroot"} <= allowed and "bpf" not in allowed
    json.dumps(translated)
