#!/bin/sh
# Print the path of Debian's static busybox for another architecture, fetched once from the
# Debian mirror into a cache (the base of scripts/examples/multiarch.sh and of the multi-arch
# tests):
#   scripts/foreign-busybox.sh [ARCH]      (Debian's architecture name; default arm64)
# Cache: $BB_FOREIGN_CACHE (default /var/cache/bb/foreign), one directory per architecture.
set -eu
arch=${1:-arm64}
cache=${BB_FOREIGN_CACHE:-/var/cache/bb/foreign}/busybox-static-$arch
if [ ! -x "$cache/bin/busybox" ]; then
    if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
        dpkg --add-architecture "$arch"
        apt-get update -qq >&2
    fi
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    # as root: apt's sandbox user could not write into the private temporary directory
    download="apt-get download -qq -o APT::Sandbox::User=root busybox-static:$arch"
    (cd "$work" && $download >&2) || {
        apt-get update -qq >&2
        (cd "$work" && $download >&2)
    }
    dpkg-deb -x "$work"/busybox-static_*_"$arch".deb "$work/root"
    mkdir -p "$(dirname "$cache")"
    rm -rf "$cache"
    mv "$work/root" "$cache"
fi
echo "$cache/bin/busybox"
