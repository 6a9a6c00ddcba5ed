#!/bin/sh
# Build one Dockerfile for linux/amd64 and linux/arm64 on an x86_64 machine, into one manifest
# list, and push it (list and images) to a registry:
#
#   scripts/examples/multiarch.sh [LIST [docker://REGISTRY/REPO:TAG]]
#                                           (default LIST: localhost/hello-multiarch:latest)
#
# The arm64 RUN steps run through qemu-user, which the kernel's binfmt_misc must hand arm64
# programs to with the F flag (apt-get install qemu-user-static binfmt-support; bb says what is
# missing). No qemu is copied into any image.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
list=${1:-localhost/hello-multiarch:latest}
destination=${2:-}
[ "$(uname -m)" = x86_64 ] || { echo "$0: this example builds arm64 on x86_64" >&2; exit 1; }

# The base, one name for both platforms: busybox built step by step for each (busybox.sh; the
# arm64 one from Debian's busybox-static:arm64), gathered in a local manifest list.
arm64_busybox=${BUSYBOX_ARM64:-$("$here/../foreign-busybox.sh" arm64)}
sh "$here/busybox.sh" localhost/busybox:amd64 >/dev/null
PLATFORM=linux/arm64 BUSYBOX=$arm64_busybox sh "$here/busybox.sh" localhost/busybox:arm64 >/dev/null
bb manifest rm localhost/busybox:multiarch 2>/dev/null || true
bb manifest create localhost/busybox:multiarch localhost/busybox:amd64 localhost/busybox:arm64

# FROM takes each platform's image from the list; each image is added to $list (made if missing).
bb manifest rm "$list" 2>/dev/null || true
bb build --platform linux/amd64,linux/arm64 --manifest "$list" "$here/multiarch"
bb manifest inspect "$list"

# Each platform's image says what it was built for and on.
for arch in amd64 arm64; do
    ctr=$(bb from --platform "linux/$arch" "$list")
    bb run "$ctr" -- cat /arch /platform
    bb rm "$ctr" >/dev/null
done

[ -z "$destination" ] || bb manifest push --all "$list" "$destination"
