"""bb version: print version information."""

import platform

import bb
from bb.cmd.common import verb_app

app = verb_app()


@app.command("version")
def version() -> None:
    """Print bb's version."""
    print(f"Version:         {bb.__version__}")
    print(f"Python Version:  {platform.python_version()}")
    print(f"OS/Arch:         {platform.system().lower()}/{platform.machine()}")
