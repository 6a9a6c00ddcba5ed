#!/bin/sh
# ruff over the whole tree: the lint rules (pyproject.toml) and the formatting.
set -eu
cd "$(dirname "$0")/.."
ruff="${RUFF:-/opt/bb/bin/ruff}"
"$ruff" check --quiet .
"$ruff" format --check --quiet .
