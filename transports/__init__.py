"""Where images go to and come from: archives, OCI layouts, registries, daemons.

A location is `<transport>:<where>` (docker://registry/repo:tag keeps its //).
Each transport is one module, loaded when used.
"""

from __future__ import annotations

import importlib

from bb.errors import InvalidArgument
from bb.store.images import ImageRecord
from bb.store.store import Store
from bb.system.progress import SILENT, Progress
from bb.transports.base import Transport, TransportOptions, stored_image

# transport name -> (module, class, constructor arguments)
TRANSPORTS: dict[str, tuple[str, str, tuple]] = {
    "docker-archive": ("docker_archive", "DockerArchiveTransport", ()),
    "oci": ("oci_layout", "OciLayoutTransport", (False,)),
    "oci-archive": ("oci_layout", "OciLayoutTransport", (True,)),
    "docker": ("registry", "RegistryTransport", ()),
    "docker-daemon": ("daemon", "DockerDaemonTransport", ()),
    "isulad": ("isulad", "IsuladTransport", ()),
}


def split_transport(text: str) -> tuple[str, str] | None:
    """("docker", "registry/repo:tag") for "docker://registry/repo:tag"; None if no known
    transport prefix."""
    name, colon, rest = text.partition(":")
    if not colon or name not in TRANSPORTS:
        return None
    if name == "docker":
        if not rest.startswith("//"):
            raise InvalidArgument(
                f'"{text}": docker transport locations are docker://REGISTRY/REPOSITORY[:TAG]'
            )
        rest = rest[2:]
    return name, rest


def transport(name: str) -> Transport:
    """An instance of the named transport."""
    module_name, class_name, arguments = TRANSPORTS[name]
    module = importlib.import_module(f"bb.transports.{module_name}")
    return getattr(module, class_name)(*arguments)


def _unknown(location: str) -> InvalidArgument:
    known = ", ".join(f"{name}:" for name in TRANSPORTS)
    return InvalidArgument(f'"{location}": unknown transport (use one of {known})')


def _parse(location: str) -> tuple[Transport, str]:
    parsed = split_transport(location)
    if parsed is None:
        raise _unknown(location)
    return transport(parsed[0]), parsed[1]


def output_path(destination: str) -> str | None:
    """The file an archive destination writes (None for other transports); refuses unknown ones."""
    parsed = split_transport(destination)
    if parsed is None:
        raise _unknown(destination)
    if parsed[0] not in ("docker-archive", "oci-archive"):
        return None
    from bb.transports.docker_archive import split_location

    return split_location(parsed[1])[0]


def destination_name(destination: str) -> str | None:
    """The image name a destination gives (`docker-archive:PATH:NAME:TAG`, `isulad:NAME:TAG`,
    `docker://REF`, ...), None if it names none (an OCI layout's ref is only a tag)."""
    parsed = split_transport(destination)
    if parsed is None:
        raise _unknown(destination)
    name, location = parsed
    if name in ("docker-archive", "oci-archive"):
        from bb.transports.docker_archive import split_location

        return split_location(location)[1]
    return None if name == "oci" else location or None


def export_images(
    store: Store,
    records: list[tuple[ImageRecord, list[str] | None]],
    destination: str,
    options: TransportOptions | None = None,
) -> None:
    """Write images (each with the names to give it, None: its own) to a transport location."""
    chosen, location = _parse(destination)
    chosen.export(
        store,
        [stored_image(store, record, names) for record, names in records],
        location,
        options or TransportOptions(),
    )


def export_image(
    store: Store, record: ImageRecord, destination: str, options: TransportOptions | None = None
) -> None:
    """Write one image to a transport location (as `bb build -o`, `bb push` and `bb commit` do)."""
    export_images(store, [(record, None)], destination, options)


def import_images(
    store: Store, source: str, options: TransportOptions | None = None
) -> list[ImageRecord]:
    """Read the image(s) at a transport location into the store."""
    chosen, location = _parse(source)
    return chosen.import_images(store, location, options or TransportOptions())


def import_image(store: Store, source: str, options: TransportOptions | None = None) -> ImageRecord:
    """Read one image (the last, for archives holding several) into the store."""
    images = import_images(store, source, options)
    if not images:
        raise InvalidArgument(f'"{source}": no image there')
    return images[-1]


def load_archive(store: Store, path: str, progress: Progress = SILENT) -> list[ImageRecord]:
    """`bb load`: a docker-archive or oci-archive (any compression), told apart by what it holds."""
    import os

    from bb.errors import ArchiveError
    from bb.transports.base import unpacked_archive
    from bb.transports.docker_archive import load_docker_archive
    from bb.transports.oci_layout import load_layout

    if not os.path.isfile(path):
        raise ArchiveError(f"{path}: no such file")
    with unpacked_archive(store, path) as root:
        if os.path.lexists(os.path.join(root, "manifest.json")):
            return load_docker_archive(store, root, progress=progress)
        if os.path.lexists(os.path.join(root, "index.json")):
            name = os.path.basename(path).split(".")[0]
            return load_layout(store, root, None, None, name, progress=progress)
    raise ArchiveError(
        f"{path}: neither a docker-archive (manifest.json) nor an OCI archive (index.json)"
    )
