#!/bin/sh
# Fresh Debian machine, as root: install bb and build (and run) the example busybox image.
set -eu
cd "$(dirname "$0")/.."
scripts/install.sh
scripts/examples/busybox.sh
bb images
