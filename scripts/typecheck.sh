#!/bin/sh
# mypy over the bb package (pyproject's [tool.mypy] says how it finds it), then over the VM
# runner: scripts/vm/run-in-vm and the vmrunner package beside it, under the name the script
# imports it by (the first run leaves it out rather than check it as bb.scripts.*).
set -eu
repo="$(cd "$(dirname "$0")/.." && pwd)"
mypy="${MYPY:-/opt/bb/bin/mypy}"
cd "$repo"
"$mypy"
# from its own directory: mypy finds the imports of a script without .py only there
cd "$repo/scripts/vm"
"$mypy" --config-file "$repo/pyproject.toml" --cache-dir "$repo/.mypy_cache" run-in-vm
