#!/bin/sh
# The long fuzz run, outside CI: the Dockerfile parser, variable expansion and the archive reader,
# with many more examples than the suite's bounded run.  Extra arguments go to pytest.
set -eu
cd "$(dirname "$0")/.."
exec /opt/bb/bin/pytest -q -p no:cacheprovider --hypothesis-profile=long \
    tests/unit/test_parser.py tests/unit/test_expand.py tests/hardening/test_hostile_input.py -k "fuzz or fails_cleanly" "$@"
