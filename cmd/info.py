"""bb info: describe the host, the store and the registries."""

import resource

import typer

from bb.cmd.common import open_store, print_json, verb_app
from bb.store.info import store_info
from bb.system.host import host_facts
from bb.system.units import human_size
from bb.transports.registries_config import load_registries_config

app = verb_app()


@app.command("info")
def info(
    ctx: typer.Context,
    human: bool = typer.Option(False, "-H", "--human-readable", help="Print sizes for people."),
    verbose: bool = typer.Option(False, "-V", "--verbose", help="Also show bb's own memory use."),
) -> None:
    """Print host, storage and registry information as JSON."""
    document = {"host": host_facts(), "store": store_info(open_store(ctx, repair=False))}
    registries = load_registries_config()
    document["registries"] = {
        "config": registries.path,
        "search": registries.search,
        "insecure": sorted(registries.insecure),
    }
    if verbose:
        document["host"]["bbMaxResidentSet"] = (
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        )
    if human:
        for key in ("MemTotal", "MemFree", "bbMaxResidentSet"):
            if key in document["host"]:
                document["host"][key] = human_size(document["host"][key])
    print_json(document)
