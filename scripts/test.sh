#!/bin/sh
# Fresh Debian machine, as root: install bb with the test needs and run the whole suite.
set -eu
cd "$(dirname "$0")/.."
scripts/install.sh --test
# lint and type check first: a regression fails in seconds, not after the suite
scripts/lint.sh
scripts/typecheck.sh
exec /opt/bb/bin/pytest "$@"
