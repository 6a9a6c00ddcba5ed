"""bb info: describe the host, the store and the registries."""

import resource
from typing import Any

import typer

from bb.cmd.common import open_store, print_json, verb_app
from bb.store.info import store_info
from bb.system.host import host_facts
from bb.system.units import human_size
from bb.transports.registries_config import load_registries_config

app = verb_app()

MEMORY_KEYS = ("MemTotal", "MemFree", "SwapTotal", "SwapFree", "bbMaxResidentSet")


@app.command("info")
def info(
    ctx: typer.Context,
    human: bool = typer.Option(False, "-H", "--human-readable", help="Print sizes for people."),
    verbose: bool = typer.Option(False, "-V", "--verbose", help="Also show bb's own memory use."),
) -> None:
    """Print host, storage and registry information: JSON, or with -H/-V isula-build's text."""
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
        for key in MEMORY_KEYS:
            if key in document["host"]:
                document["host"][key] = human_size(document["host"][key])
    if human or verbose:  # flags only isula-build has: its scripts read its layout
        _print_isula_build_layout(document)
    else:
        print_json(document)


def _section(title: str, rows: list[tuple[str, Any]], width: int) -> None:
    width = max([width, *(len(label) + 1 for label, _ in rows)])
    print(f"{title}:")
    for label, value in rows:
        print(f"  {label + ':':<{width}} {value}")


def _print_isula_build_layout(document: dict[str, Any]) -> None:
    """isula-build's General, Store (with the driver's rows), Registry and Runtime sections."""
    host, store = document["host"], document["store"]
    general = [(key, host[key]) for key in MEMORY_KEYS[:4]]
    general += [
        ("OCI Runtime", host["OCIRuntime"]),
        ("DataRoot", store["GraphRoot"]),
        ("RunRoot", store["RunRoot"]),
        ("Builders", store["ContainerStore"]["number"]),
    ]
    _section("General", general, 13)
    status = list(store["GraphStatus"].items())
    _section("Store", [("Storage Driver", store["GraphDriverName"]), *status], 19)
    print("Registry:")
    for title, key in (("Search Registries", "search"), ("Insecure Registries", "insecure")):
        print(f"  {title}:")
        for registry in document["registries"][key]:
            print(f"    {registry}")
    if "bbMaxResidentSet" in host:
        _section("Runtime", [("MaxResidentSet", host["bbMaxResidentSet"])], 17)
