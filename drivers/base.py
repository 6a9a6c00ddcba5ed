"""The storage driver interface every driver implements, and the registry of drivers by name."""

from __future__ import annotations

import abc
import contextlib
import os
from collections.abc import Callable, Iterator
from typing import BinaryIO

from bb.archive.changes import Change
from bb.errors import DriverError, InvalidArgument


class Driver(abc.ABC):
    """Holds layer trees: read-only image layers and writable container layers on top.

    Every layer has an ID and at most one parent; a layer's tree is its
    parent's tree plus its own changes. The store decides IDs and keeps all
    metadata beyond what the driver itself needs.
    """

    #: the name the driver registers under and its home directory's name
    name: str = ""
    #: options this driver accepts in --storage-opt / [storage.options]
    option_names: frozenset[str] = frozenset()

    def __init__(self, home: str, run_home: str, options: dict[str, str]):
        unknown = sorted(set(options) - self.option_names)
        if unknown:
            raise InvalidArgument(f'storage driver {self.name}: unknown option "{unknown[0]}"')
        self.home = home
        self.run_home = run_home
        self.options = options

    @classmethod
    @abc.abstractmethod
    def check_supported(cls) -> None:
        """Raise DriverNotSupported saying why this driver cannot run on this machine."""

    @abc.abstractmethod
    def create(self, layer_id: str, parent_id: str | None, writable: bool = False) -> None:
        """Create an empty layer on `parent_id` (a container layer when `writable`)."""

    @abc.abstractmethod
    def remove(self, layer_id: str) -> None:
        """Delete a layer (unmounting it first); a missing layer is not an error."""

    @abc.abstractmethod
    def exists(self, layer_id: str) -> bool:
        """Whether the driver holds this layer."""

    @abc.abstractmethod
    def list_layers(self) -> list[str]:
        """IDs of every layer the driver holds."""

    @abc.abstractmethod
    def mount(self, layer_id: str) -> str:
        """Make the layer's full tree available and return its path (idempotent)."""

    @abc.abstractmethod
    def unmount(self, layer_id: str) -> None:
        """Release what mount() set up (idempotent)."""

    @abc.abstractmethod
    def is_mounted(self, layer_id: str) -> bool:
        """Whether mount() is in effect for the layer."""

    @abc.abstractmethod
    def read_only_view(self, layer_id: str) -> contextlib.AbstractContextManager[str]:
        """A context giving a path to the layer's full tree, for reading only."""

    @contextlib.contextmanager
    def parent_view(self, parent_id: str | None) -> Iterator[str | None]:
        """`read_only_view` of a parent layer; None for a layer with no parent."""
        if parent_id is None:
            yield None
        else:
            with self.read_only_view(parent_id) as view:
                yield view

    @abc.abstractmethod
    def changes(
        self, layer_id: str, parent_id: str | None
    ) -> contextlib.AbstractContextManager[tuple[str, list[Change]]]:
        """A context giving (content root, changes) of the layer against `parent_id`."""

    @abc.abstractmethod
    def apply_diff(
        self,
        layer_id: str,
        parent_id: str | None,
        layer_tar: BinaryIO,
        reuse_files_from: str | None = None,
    ) -> None:
        """Unpack a layer tar (with whiteouts) into a layer just created on `parent_id`.

        `reuse_files_from`: the tree the tar was written from, about to be deleted (see
        extract_tar)."""

    @abc.abstractmethod
    def status(self) -> list[tuple[str, str]]:
        """Rows describing the driver's state, for `bb info`."""

    def check_space(self) -> None:
        """Raise DriverError if the driver's storage is full, which may be why a write failed
        (only a driver with storage of its own, such as a thin pool, can say)."""

    @abc.abstractmethod
    def cleanup(self) -> None:
        """Undo what no bb process needs anymore (stray mounts and views)."""


DriverFactory = type[Driver]

_registry: dict[str, Callable[[], DriverFactory]] = {}

# With nothing configured and an empty store, the first driver here that can run is used.
PRIORITY = ("overlay", "vfs")


def register(name: str, load: Callable[[], DriverFactory]) -> None:
    """Register a driver under `name`; `load` imports it only when it is used."""
    if name in _registry:
        raise DriverError(f'storage driver "{name}" registered twice')
    _registry[name] = load


def driver_class(name: str) -> DriverFactory:
    """The driver class registered under `name`."""
    try:
        load = _registry[name]
    except KeyError:
        known = ", ".join(sorted(_registry))
        raise InvalidArgument(f'unknown storage driver "{name}" (known: {known})') from None
    return load()


def ensure_directory(path: str, mode: int = 0o700) -> str:
    """Create `path` (and parents) if missing; return it."""
    os.makedirs(path, mode=mode, exist_ok=True)
    return path
