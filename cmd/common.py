"""What every verb shares: global options, opening the store, error reporting, output."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click
import typer
from typer.core import TyperCommand

from bb.errors import EXIT_FAILURE, EXIT_ISULA_BUILD_FAILURE, BBError, InvalidArgument

if TYPE_CHECKING:  # imported when used: the verbs that take no registry options stay fast
    from bb.transports.base import TransportOptions

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class GlobalOptions:
    """Options given before the verb (`bb --root R run ...`); None means "not given"."""

    root: str | None = None
    runroot: str | None = None
    storage_driver: str | None = None
    storage_opts: list[str] = field(default_factory=list)
    config: str | None = None
    debug: bool = False

    @classmethod
    def from_environment(cls) -> GlobalOptions:
        """The options the BB_* environment variables give (for a verb run on its own)."""
        return cls(
            root=os.environ.get("BB_ROOT"),
            runroot=os.environ.get("BB_RUNROOT"),
            storage_driver=os.environ.get("BB_STORAGE_DRIVER"),
            config=os.environ.get("BB_CONFIG"),
        )


def global_options(ctx: typer.Context) -> GlobalOptions:
    """The global options of this invocation."""
    root = ctx.find_root()
    if isinstance(root.obj, GlobalOptions):
        return root.obj
    return GlobalOptions.from_environment()


def open_store(ctx: typer.Context, repair: bool = True):  # type: ignore[no-untyped-def]
    """Open the store the global options and config file name."""
    from bb.store.config import load_store_options
    from bb.store.store import Store

    if os.geteuid() != 0:
        raise BBError("bb must run as root (rootless mode is not supported)")
    options = global_options(ctx)
    store_options = load_store_options(
        config_path=options.config,
        graph_root=options.root,
        run_root=options.runroot,
        driver=options.storage_driver,
        storage_opts=options.storage_opts,
        isula_build=isula_build_mode(ctx),
    )
    if store_options.registries_config:  # isula-build's registries.toml, unless one is named
        os.environ.setdefault("BB_REGISTRIES_CONFIG", store_options.registries_config)
    if store_options.debug:
        os.environ["BB_DEBUG"] = "1"
    return Store.open(store_options, repair=repair)


def isula_build_mode(ctx: click.Context | None) -> bool:
    """Whether `ctx` is a verb run as `bb ctr-img VERB`: isula-build's messages and exit codes."""
    while ctx is not None:
        if ctx.info_name == "ctr-img":
            return True
        ctx = ctx.parent
    return False


def exit_code(code: int, ctx: click.Context | None) -> int:
    """The status an error of exit code `code` ends bb with: under `ctr-img`, isula-build's 1."""
    return EXIT_ISULA_BUILD_FAILURE if isula_build_mode(ctx) else code


def reports_errors(function: F) -> F:
    """Print a BBError (or OS error) as one `Error: ...` line and exit with its code."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except BBError as failure:
            _report(str(failure), failure)
            code = failure.exit_code
        except OSError as failure:
            where = f": {failure.filename}" if failure.filename else ""
            _report(f"{failure.strerror or failure}{where}", failure)
            code = EXIT_FAILURE
        raise typer.Exit(exit_code(code, click.get_current_context(silent=True)))

    return wrapper  # type: ignore[return-value]


_TRUE = ("true", "1", "t", "yes")
_FALSE = ("false", "0", "f", "no")
# options whose value may be left out (`--pull` alone): the value that stands for it, and the
# values it takes when given as the next word (`--pull always`); any other next word is not its
_BARE_VALUES = {"--pull": ("true", ("always", "missing", "never", "newer", "true", "false"))}


def buildah_spellings(params: list[click.Parameter], args: list[str]) -> list[str]:
    """The arguments with buildah's spellings rewritten to click's.

    Boolean flags take `--flag=true|false` as well as `--flag` and `--no-flag` (pflag's
    spelling, which buildah, podman and skopeo users type); `--pull` alone means `--pull=true`.
    """
    flags: dict[str, click.Option] = {}
    bare: dict[str, tuple[str, tuple[str, ...]]] = {}
    for param in params:
        if isinstance(param, click.Option) and param.is_flag and param.is_bool_flag:
            flags.update((name, param) for name in param.opts)
        elif isinstance(param, click.Option):
            bare.update((name, _BARE_VALUES[name]) for name in param.opts if name in _BARE_VALUES)
    result: list[str] = []
    for index, word in enumerate(args):
        if word == "--":
            result += args[index:]
            break
        name, equals, value = word.partition("=")
        if equals and name in flags:
            option = flags[name]
            if value.lower() in _TRUE:
                result.append(name)
            elif value.lower() not in _FALSE:
                raise click.BadOptionUsage(name, f'{name}="{value}": expected true or false')
            elif option.secondary_opts:
                result.append(option.secondary_opts[0])
            else:  # a flag that is off unless given: off is what it was before it
                result = [earlier for earlier in result if earlier not in option.opts]
        elif not equals and name in bare:
            standing_for, takes = bare[name]
            following = args[index + 1] if index + 1 < len(args) else None
            # `--pull always` takes its value from the next word; `--pull .` does not
            result.append(name if following in takes else f"{name}={standing_for}")
        else:
            result.append(word)
    return result


class BBCommand(TyperCommand):
    """A verb's click command: takes buildah's spellings of flags (see buildah_spellings)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse the arguments, rewritten to click's spellings first."""
        return super().parse_args(ctx, buildah_spellings(self.params, args))


class VerbTyper(typer.Typer):
    """A verb's Typer: every command it registers maps bb's errors the one way and takes
    buildah's spellings of flags."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        """Register a command, wrapped in `reports_errors`."""
        kwargs.setdefault("cls", BBCommand)
        register = super().command(*args, **kwargs)

        def decorator(function: F) -> F:
            register(reports_errors(function))
            return function

        return decorator


def verb_app(**settings: Any) -> VerbTyper:
    """The Typer of one verb or verb group; every verb module builds its `app` here."""
    # no rich markup: help such as `PORT[/proto]` must print as written, not parse as a tag
    return VerbTyper(
        rich_markup_mode=None, add_completion=False, pretty_exceptions_enable=False, **settings
    )


# The registry options of pull, push, from, build and manifest push (login takes the first
# four), spelled and defaulted as buildah 1.28's.
TLS_VERIFY = typer.Option(
    None,
    "--tls-verify/--no-tls-verify",
    help="Require HTTPS with verified certificates (--tls-verify=false: plain HTTP).",
)
AUTHFILE = typer.Option(
    None, "--authfile", help="auth.json with registry credentials (default $REGISTRY_AUTH_FILE)."
)
CREDS = typer.Option(
    None, "--creds", help="USER[:PASSWORD] for the registry (asked for when left out)."
)
CERT_DIR = typer.Option(
    None,
    "--cert-dir",
    help="Directory of *.crt CA certificates and *.cert/*.key client pairs "
    "(default /etc/containers/certs.d/HOST).",
)
RETRY = typer.Option(
    3, "--retry", min=0, max=100, help="Retries of a failed registry request (5xx, 429, reset)."
)
RETRY_DELAY = typer.Option(
    "2s", "--retry-delay", help="First wait before a retry (doubled each time): 500ms, 2s, 1m."
)
PULL = typer.Option(
    "missing",
    "--pull",
    help="Pull the image: always, missing, never, or newer (--pull, --pull=true); "
    "--pull=false: missing.",
)


def pull_policy(text: str) -> str:
    """--pull's policy, as buildah spells it: true is newer, false is missing."""
    return {"true": "newer", "false": "missing"}.get(text.lower(), text.lower())


@dataclass(frozen=True)
class RegistryFlags:
    """What a verb's registry options said (see with_registry_flags)."""

    tls_verify: bool | None = None
    authfile: str | None = None
    creds: str | None = None
    cert_dir: str | None = None
    retry: int = 3
    retry_delay: str = "2s"

    def options(self, quiet: bool = False, **more: Any) -> TransportOptions:
        """The TransportOptions they give, with `more` of the verb's own."""
        return registry_options(
            self.tls_verify,
            self.authfile,
            self.creds,
            self.cert_dir,
            self.retry,
            self.retry_delay,
            quiet=quiet,
            **more,
        )


_REGISTRY_FLAGS: dict[str, tuple[Any, Any]] = {
    "tls_verify": (bool | None, TLS_VERIFY),
    "authfile": (str | None, AUTHFILE),
    "creds": (str | None, CREDS),
    "cert_dir": (str | None, CERT_DIR),
    "retry": (int, RETRY),
    "retry_delay": (str, RETRY_DELAY),
}


def with_registry_flags(function: F) -> F:
    """Give a verb the registry options, declared once here: typer sees `--tls-verify`,
    `--authfile`, `--creds`, `--cert-dir`, `--retry` and `--retry-delay` where the verb declares a
    `registry: RegistryFlags` parameter, and the verb gets them in it."""
    import inspect

    signature = inspect.signature(function)
    parameters = [p for p in signature.parameters.values() if p.name != "registry"]
    flags = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
        for name, (kind, option) in _REGISTRY_FLAGS.items()
    ]

    @functools.wraps(function)
    def verb(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in _REGISTRY_FLAGS}
        return function(*args, registry=RegistryFlags(**given), **kwargs)

    verb.__signature__ = signature.replace(parameters=[*parameters, *flags])  # type: ignore[attr-defined]
    annotations = {k: v for k, v in function.__annotations__.items() if k != "registry"}
    verb.__annotations__ = {**annotations, **{n: kind for n, (kind, _) in _REGISTRY_FLAGS.items()}}
    return verb  # type: ignore[return-value]


def registry_options(
    tls_verify: bool | None = None,
    authfile: str | None = None,
    creds: str | None = None,
    cert_dir: str | None = None,
    retry: int = 3,
    retry_delay: str = "2s",
    quiet: bool = False,
    **more: Any,
) -> TransportOptions:
    """The TransportOptions the registry options give (`--creds USER` asks for the password);
    layer transfers are shown on stderr unless `quiet`."""
    from bb.system.progress import Progress
    from bb.system.units import parse_duration
    from bb.transports.base import TransportOptions

    if creds is not None and ":" not in creds:
        if not sys.stdin.isatty():
            raise InvalidArgument(f'--creds "{creds}": no password given, and not at a terminal')
        import getpass

        creds = f"{creds}:{getpass.getpass('Password: ')}"
    if cert_dir is not None and not os.path.isdir(cert_dir):
        raise InvalidArgument(f'--cert-dir "{cert_dir}": not a directory')
    return TransportOptions(
        tls_verify=tls_verify,
        authfile=authfile,
        credentials=creds,
        cert_dir=cert_dir,
        retries=retry,
        retry_delay=parse_duration(retry_delay, "--retry-delay") / 1e9,
        progress=Progress.on_stderr(quiet),
        **more,
    )


def _report(message: str, failure: BaseException) -> None:
    if os.environ.get("BB_DEBUG"):
        import traceback

        traceback.print_exception(failure, file=sys.stderr)
    print(f"Error: {message}", file=sys.stderr)


def print_table(headers: list[str], rows: Iterable[list[Any]], noheading: bool = False) -> None:
    """Print rows as aligned columns, the way buildah's list commands do."""
    from tabulate import tabulate

    rows = list(rows)
    if noheading:
        text = tabulate(rows, tablefmt="plain", disable_numparse=True) if rows else ""
    else:
        text = tabulate(rows, headers=headers, tablefmt="plain", disable_numparse=True)
    if text:
        print(text)


def print_ruled_table(headers: list[str], rows: Iterable[list[str]], widths: list[int]) -> None:
    """Print rows as isula-build does: dashed rules above and below the header and at the end.

    Columns are at least `widths` wide (isula-build's manual's) and two spaces apart, so
    `tail -n +4 | awk '{print $3}'` lines written for isula-build keep working."""
    rows = list(rows)
    widths = [
        max([width, *(len(row[column]) + 2 for row in rows)]) for column, width in enumerate(widths)
    ]
    rule = "  ".join("-" * width for width in widths)

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    print("\n".join([rule, line(headers), rule, *(line(row) for row in rows), rule]))


def local_time(timestamp: str) -> str:
    """An RFC 3339 timestamp as local `YYYY-MM-DD HH:MM:SS` (isula-build's CREATED column)."""
    import datetime

    try:
        when = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def print_json(value: Any) -> None:
    """Print a JSON document, indented."""
    print(json.dumps(value, indent=4))


def short_id(identifier: str, truncate: bool = True) -> str:
    """The 12-character form of an ID unless --notruncate."""
    return identifier[:12] if truncate else identifier


def human_age(timestamp: str) -> str:
    """How long ago an RFC 3339 timestamp was ("5 minutes ago")."""
    import datetime

    try:
        when = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    seconds = int((datetime.datetime.now(datetime.UTC) - when).total_seconds())
    for unit, length in (
        ("year", 31536000),
        ("month", 2592000),
        ("week", 604800),
        ("day", 86400),
        ("hour", 3600),
        ("minute", 60),
    ):
        if seconds >= length:
            count = seconds // length
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "Less than a minute ago" if seconds >= 0 else "In the future"


def render_format(template: str, document: dict[str, Any]) -> str:
    """Fill `{{.Key}}` / `{{.Key.Sub}}` placeholders (the part of Go templates people use)."""
    import re

    def value(match: re.Match[str]) -> str:
        current: Any = document
        for key in match.group(1).split("."):
            current = current.get(key) if isinstance(current, dict) else None
        if isinstance(current, (dict, list)):
            return json.dumps(current)
        return "" if current is None else str(current)

    return re.sub(r"\{\{\s*\.([A-Za-z0-9_.]+)\s*\}\}", value, template)


# buildah's platform flags, shared by build, from and pull
PLATFORM_OPTION = typer.Option(
    [], "--platform", help="OS/ARCH[/VARIANT] instead of this machine's (e.g. linux/arm64)."
)
ARCH_OPTION = typer.Option(None, "--arch", help="Architecture (GOARCH: amd64, arm64, ...).")
OS_OPTION = typer.Option(None, "--os", help="Operating system (linux).")
VARIANT_OPTION = typer.Option(None, "--variant", help="Architecture variant (e.g. v7 of arm).")
