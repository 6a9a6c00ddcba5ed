"""bb version: print version information."""

import platform

import typer

import bb

app = typer.Typer()


@app.command("version")
def version() -> None:
    """Print bb's version."""
    print(f"Version:         {bb.__version__}")
    print(f"Python Version:  {platform.python_version()}")
    print(f"OS/Arch:         {platform.system().lower()}/{platform.machine()}")
