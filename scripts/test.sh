#!/bin/sh
# Fresh Debian machine, as root: install bb with the test needs and run the whole suite.
set -eu
cd "$(dirname "$0")/.."
scripts/install.sh --test
exec /opt/bb/bin/pytest "$@"
