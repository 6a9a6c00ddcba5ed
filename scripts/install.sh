#!/bin/sh
# Install bb and what it needs on Debian (run as root):
#   scripts/install.sh          runtime: runc, busybox-static, bb in /opt/bb
#   scripts/install.sh --test   also what the test suite needs
set -eu
cd "$(dirname "$0")/.."

# golang-github-containers-common ships the seccomp profile RUN steps are confined with;
# lvm2 (with dmsetup) and thin-provisioning-tools serve the devicemapper driver (direct-lvm)
packages="python3 python3-venv runc busybox-static mount util-linux e2fsprogs ca-certificates"
packages="$packages golang-github-containers-common lvm2 thin-provisioning-tools"
extras=""
if [ "${1:-}" = "--test" ]; then
    # the devicemapper tests boot a Debian kernel with dm-thin under QEMU (scripts/vm)
    packages="$packages qemu-system-x86 cpio kmod xfsprogs"
    # peers the transport tests check bb against
    packages="$packages docker-registry docker.io skopeo umoci buildah apache2-utils xz-utils"
    # the real-world build starts from a Debian rootfs (tests/functional/test_real_world.py)
    packages="$packages debootstrap"
    # multi-arch builds run arm64 RUN steps through qemu-user (tests/functional/test_multiarch.py)
    packages="$packages qemu-user-static binfmt-support"
    # RUN --mount=type=ssh is tested with a real ssh-agent, ADD of a git URL with git
    packages="$packages openssh-client git"
    extras="[test]"
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $packages >/dev/null

# Debian's python3, not whatever python3 comes first on PATH: Debian builds it with PGO and LTO,
# which makes every bb command start ~10 ms faster than a plain source build (such as pyenv's).
python=/usr/bin/python3
$python -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "bb needs Python >= 3.11 (found $($python --version))" >&2; exit 1; }
# a venv made earlier from another Python is made again
grep -qx "home = /usr/bin" /opt/bb/pyvenv.cfg 2>/dev/null || { rm -rf /opt/bb; $python -m venv /opt/bb; }
/opt/bb/bin/pip install -q -e ".$extras"
# an editable install leaves bb's own modules uncompiled; bytecode saves ~80 ms per bb command
/opt/bb/bin/python -m compileall -q -x '(^|/)(tests|scripts|\.git|typecheck)/' . >/dev/null
ln -sf /opt/bb/bin/bb /usr/local/bin/bb
[ -e /etc/bb/storage.toml ] || install -D -m 0644 etc/storage.toml /etc/bb/storage.toml
if [ "${1:-}" = "--test" ]; then
    # qemu-aarch64 registered with binfmt_misc's F flag, so arm64 RUN steps run in a container's
    # root (which has no qemu); binfmt-support's service would do this at boot
    scripts/register-qemu-binfmt.sh aarch64
    # the multi-arch tests' arm64 base: Debian's busybox-static, cached
    scripts/foreign-busybox.sh arm64 >/dev/null
fi
echo "bb installed: $(command -v bb)"
