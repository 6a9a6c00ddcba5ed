"""bb login: check and store credentials for a registry."""

import getpass
import sys

import typer

from bb.cmd.common import AUTHFILE, CERT_DIR, TLS_VERIFY, registry_options, verb_app
from bb.errors import InvalidArgument
from bb.image.reference import Reference
from bb.transports.auth import store_credentials
from bb.transports.registry.client import RegistryClient

app = verb_app()


@app.command("login")
def login(
    server: str = typer.Argument(..., help="Registry (host[:port])."),
    username: str | None = typer.Option(None, "-u", "--username", help="User name."),
    password: str | None = typer.Option(
        None, "--password", help="Password (prefer --password-stdin)."
    ),
    # -p is isula-build's: it reads the password from stdin, it does not take one
    password_stdin: bool = typer.Option(
        False, "-p", "--password-stdin", help="Read the password from standard input."
    ),
    authfile: str | None = AUTHFILE,
    tls_verify: bool | None = TLS_VERIFY,
    cert_dir: str | None = CERT_DIR,
) -> None:
    """Log in to SERVER: the credentials are checked, then kept in auth.json (mode 0600)."""
    server = server.removeprefix("https://").removeprefix("http://").rstrip("/")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    if username is None:
        if not sys.stdin.isatty():
            raise InvalidArgument("--username is required when not at a terminal")
        username = input("Username: ")
    if password is None:
        password = getpass.getpass("Password: ")
    options = registry_options(tls_verify, authfile, f"{username}:{password}", cert_dir)
    RegistryClient(Reference(server, "bb/login-check"), options).check()
    store_credentials(server, username, password, authfile)
    print("Login Succeeded")
