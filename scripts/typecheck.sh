#!/bin/sh
# mypy over the bb package: the repository root is the `bb` package (pyproject's package-dir),
# and mypy can only name its modules bb.* when it finds the tree under a directory called bb.
set -eu
repo="$(cd "$(dirname "$0")/.." && pwd)"
parent="$(mktemp -d)"
trap 'rm -rf "$parent"' EXIT
ln -s "$repo" "$parent/bb"
cd "$parent"
exec "${MYPY:-/opt/bb/bin/mypy}" --config-file "$repo/pyproject.toml" -p bb
