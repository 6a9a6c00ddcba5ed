"""What run-in-vm tells its caller: `bb-vm:` lines on stderr, exit statuses, early ends."""

from __future__ import annotations

import sys

EXIT_TIMEOUT = 124
EXIT_VM_FAILED = 125

VERBOSE = False  # --verbose: debug lines, the VM console and timings on stderr


class Failure(Exception):
    """Preparation or VM failure: reported as one line, exit 125."""


class Interrupted(Exception):
    """run-in-vm got a signal that ends the run (SIGINT, SIGTERM, SIGHUP)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def log(msg: str) -> None:
    """Print one `bb-vm:` line on stderr."""
    sys.stderr.write(f"bb-vm: {msg}\n")
    sys.stderr.flush()


def debug(msg: str) -> None:
    """Print one `bb-vm:` line on stderr with --verbose."""
    if VERBOSE:
        log(msg)
