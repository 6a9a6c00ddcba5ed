"""bb version: print version information."""

import platform

import bb
from bb.cmd.common import verb_app

app = verb_app()


@app.command("version")
def version() -> None:
    """Print bb's version in isula-build's layout: bb is its own client and server (no daemon)."""
    rows = [
        ("Version:", bb.__version__),
        ("Python Version:", platform.python_version()),
        ("OS/Arch:", f"{platform.system().lower()}/{platform.machine()}"),
    ]
    for number, section in enumerate(("Client:", "Server:")):
        print(("\n" if number else "") + section)
        for label, value in rows:
            print(f"  {label:<14} {value}")
