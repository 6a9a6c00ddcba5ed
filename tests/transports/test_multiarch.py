"""Multi-architecture builds on this x86_64 machine: arm64 RUN steps through qemu-user (binfmt_misc,
F flag), one manifest list pushed to a real registry, read back with skopeo and pulled by buildah.

The arm64 base is Debian's busybox-static:arm64 (scripts/foreign-busybox.sh caches it; install.sh
--test fetches it and registers qemu-aarch64), made into an image by scripts/examples/busybox.sh
with PLATFORM=linux/arm64, as the multiarch example does.
"""

from __future__ import annotations

import json
import platform
import subprocess
import tarfile
from pathlib import Path

import pytest

from testbed import BUSYBOX_EXAMPLE, REPO, private_buildah

DRIVERS = ["overlay", "vfs"]
# ELF header: e_machine (offset 18, little-endian) of AArch64 and x86-64
EM_AARCH64 = 0xB7
EM_X86_64 = 0x3E
DOCKERFILE = """\
FROM {base}
ARG TARGETPLATFORM BUILDPLATFORM
RUN uname -m > /arch && echo "$TARGETPLATFORM on $BUILDPLATFORM" > /platform
"""

pytestmark = pytest.mark.skipif(
    platform.machine() != "x86_64", reason="builds arm64 on an x86_64 host"
)


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest) -> str:
    """Unlike the other transport tests, on every host driver: RUN of another architecture
    goes through the driver's mounts."""
    return request.param


@pytest.fixture(scope="session")
def arm64_busybox() -> str:
    """Debian's static busybox for arm64 (fetched once, cached), and qemu-aarch64 registered."""
    registered = subprocess.run(
        [str(REPO / "scripts" / "register-qemu-binfmt.sh"), "aarch64"],
        capture_output=True,
        text=True,
    )
    assert registered.returncode == 0, registered.stderr
    result = subprocess.run(
        [str(REPO / "scripts" / "foreign-busybox.sh"), "arm64"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def make_arm64_busybox(bb, arm64_busybox: str) -> None:  # type: ignore[no-untyped-def]
    """localhost/busybox:arm64 next to the store's (amd64) localhost/busybox:latest."""
    result = subprocess.run(
        ["sh", str(BUSYBOX_EXAMPLE), "localhost/busybox:arm64"],
        env={**bb.env(), "PLATFORM": "linux/arm64", "BUSYBOX": arm64_busybox},
        cwd=bb.cwd,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def skopeo(*args: str) -> str:
    result = subprocess.run(["skopeo", *args], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def files_of(image_dir: Path) -> dict[str, bytes]:
    """The files of an image skopeo copied to a dir: location (each layer in order; regular
    files only, the first 4 KiB of each)."""
    manifest = json.loads((image_dir / "manifest.json").read_text())
    files: dict[str, bytes] = {}
    for layer in manifest["layers"]:
        with tarfile.open(image_dir / layer["digest"].split(":")[1]) as archive:
            for member in archive:
                stream = archive.extractfile(member) if member.isfile() else None
                if stream is not None:
                    files[member.name.removeprefix("./")] = stream.read(4096)
    return files


def elf_machine(header: bytes) -> int:
    assert header[:4] == b"\x7fELF", header[:4]
    return int.from_bytes(header[18:20], "little")


def test_one_dockerfile_for_amd64_and_arm64_in_one_pushed_list(
    bb, registry, arm64_busybox, tmp_path
):
    make_arm64_busybox(bb, arm64_busybox)
    # the base, a list in the registry: FROM takes each platform's image from it
    base = f"{registry.address}/multiarch/busybox:1"
    bb("manifest", "create", "busybox:multi", "busybox:latest", "busybox:arm64")
    bb("manifest", "push", "--all", "busybox:multi", f"docker://{base}")
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE.format(base=base))

    out = bb(
        "build", "--platform", "linux/amd64,linux/arm64", "--manifest", "hello:multi", str(context)
    )
    assert "[linux/arm64] STEP 3/3: RUN uname -m" in out
    amd64_id, arm64_id = out.splitlines()[-2:]
    inspected = json.loads(bb("manifest", "inspect", "hello:multi"))
    assert [m["platform"] for m in inspected["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux"},
    ]
    for image_id, architecture in ((amd64_id, "amd64"), (arm64_id, "arm64")):
        config = json.loads(bb("inspect", "--type", "image", image_id))["Config"]
        assert (config["architecture"], config["os"]) == (architecture, "linux")

    destination = f"{registry.address}/multiarch/hello:1"
    bb("manifest", "push", "--all", "hello:multi", f"docker://{destination}")
    index = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{destination}"))
    assert sorted(
        (m["platform"]["os"], m["platform"]["architecture"]) for m in index["manifests"]
    ) == [("linux", "amd64"), ("linux", "arm64")]

    for architecture, machine, elf in (
        ("arm64", "aarch64", EM_AARCH64),
        ("amd64", "x86_64", EM_X86_64),
    ):
        copied = tmp_path / f"copied-{architecture}"
        skopeo(
            "copy",
            "--src-tls-verify=false",
            "--override-arch",
            architecture,
            f"docker://{destination}",
            f"dir:{copied}",
        )
        files = files_of(copied)
        assert files["arch"] == f"{machine}\n".encode()
        assert files["platform"] == f"linux/{architecture} on linux/amd64\n".encode()
        assert elf_machine(files["bin/busybox"]) == elf

    with private_buildah(tmp_path / "buildah") as buildah:
        pulled = subprocess.run(
            [*buildah, "pull", "--tls-verify=false", "--platform", "linux/arm64", destination],
            capture_output=True,
            text=True,
        )
        assert pulled.returncode == 0, pulled.stderr
        architecture = subprocess.run(
            [
                *buildah,
                "inspect",
                "--type",
                "image",
                "--format",
                "{{.OCIv1.Architecture}}",
                destination,
            ],
            capture_output=True,
            text=True,
        )
        assert architecture.stdout.strip() == "arm64", architecture.stderr
        working = subprocess.run(
            [*buildah, "from", "--platform", "linux/arm64", destination],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        arch = subprocess.run(
            [*buildah, "run", "--isolation", "chroot", working, "--", "cat", "/arch"],
            capture_output=True,
            text=True,
        )
        assert arch.stdout == "aarch64\n", arch.stderr

    # bb pulls by platform too, and refuses a platform the list lacks, storing nothing
    pulled_id = bb("pull", "--platform", "linux/arm64", f"docker://{destination}")
    assert pulled_id == arm64_id
    images = bb("images", "-q", "--notruncate")
    assert "no image for linux/s390x" in bb.fails("pull", "--arch", "s390x", destination)
    assert bb("images", "-q", "--notruncate") == images
    # a stored image of another platform is pulled for the one asked for, or refused
    message = bb.fails("from", "--arch", "s390x", destination)
    assert f'image "{destination}" is for linux/arm64, not linux/s390x, and pulling it' in message
    assert "no image for linux/s390x" in message
    assert bb("images", "-q", "--notruncate") == images and not bb("containers", "-q")


def test_all_platforms_of_a_local_list_with_a_build_platform_stage(bb, arm64_busybox, tmp_path):
    make_arm64_busybox(bb, arm64_busybox)
    bb("manifest", "create", "busybox:multi", "busybox:latest", "busybox:arm64")
    # BuildKit's cross-compilation pattern: a stage on the build machine feeds the target's
    (tmp_path / "Dockerfile").write_text(
        "FROM --platform=$BUILDPLATFORM busybox:multi AS tools\n"
        "RUN uname -m > /built-on\n"
        "FROM busybox:multi\n"
        "COPY --from=tools /built-on /built-on\n"
        "RUN uname -m > /arch\n"
    )
    ids = bb("build", "-q", "--all-platforms", "--manifest", "app:multi", str(tmp_path))
    amd64_id, arm64_id = ids.splitlines()
    listed = json.loads(bb("manifest", "inspect", "app:multi"))["manifests"]
    assert [m["platform"]["architecture"] for m in listed] == ["amd64", "arm64"]
    assert bb.run_in(arm64_id, "cat /built-on /arch") == "x86_64\naarch64"
    assert bb.run_in(amd64_id, "cat /built-on /arch") == "x86_64\nx86_64"


@pytest.mark.parametrize("driver", ["overlay"])
def test_multiarch_example_pushes_both_platforms(bb, registry, arm64_busybox):
    destination = f"docker://{registry.address}/examples/hello-multiarch:1"
    result = subprocess.run(
        ["sh", str(REPO / "scripts" / "examples" / "multiarch.sh"), "hello:multi", destination],
        env={**bb.env(), "BUSYBOX_ARM64": arm64_busybox},
        cwd=bb.cwd,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "x86_64\nbuilt for linux/amd64 on linux/amd64\n"
        "aarch64\nbuilt for linux/arm64 on linux/amd64\n"
    ) in result.stdout
    index = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", destination))
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]
