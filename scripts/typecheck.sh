#!/bin/sh
# mypy over the bb package: the repository root is the `bb` package (pyproject's package-dir),
# and mypy can only name its modules bb.* when it finds the tree under a directory called bb.
# Then over the VM runner: scripts/vm/run-in-vm and the vmrunner package beside it, under the
# name the script imports it by (the first run leaves it out rather than check it as bb.scripts.*).
set -eu
repo="$(cd "$(dirname "$0")/.." && pwd)"
mypy="${MYPY:-/opt/bb/bin/mypy}"
parent="$(mktemp -d)"
trap 'rm -rf "$parent"' EXIT
ln -s "$repo" "$parent/bb"
cd "$parent"
"$mypy" --config-file "$repo/pyproject.toml" --exclude '^bb/scripts/vm/vmrunner/' -p bb
# from its own directory: mypy finds the imports of a script without .py only there
cd "$repo/scripts/vm"
"$mypy" --config-file "$repo/pyproject.toml" --cache-dir "$parent/.mypy_cache" run-in-vm
