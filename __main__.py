"""Allow `python -m bb`."""

from bb.cmd.main import run

run()
