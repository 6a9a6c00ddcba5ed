"""The vfs driver: every layer a full copy of its parent's tree. Slow, large, but runs anywhere."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from typing import BinaryIO

from bb.archive.changes import Change, tree_changes
from bb.drivers.base import Driver, ensure_directory
from bb.errors import LayerNotFound
from bb.system.mounts import filesystem_type
from bb.system.tools import run_tool


class VfsDriver(Driver):
    """Layers as plain directory copies (reflinked where the filesystem can)."""

    name = "vfs"

    def __init__(self, home: str, run_home: str, options: dict[str, str]):
        super().__init__(home, run_home, options)
        ensure_directory(os.path.join(home, "dir"))

    @classmethod
    def check_supported(cls) -> None:
        """Runs on any filesystem."""

    def _tree(self, layer_id: str) -> str:
        return os.path.join(self.home, "dir", layer_id)

    def create(self, layer_id: str, parent_id: str | None, writable: bool = False) -> None:
        """Copy the parent's tree (or start empty)."""
        tree = self._tree(layer_id)
        if parent_id is None:
            os.mkdir(tree, 0o755)
            return
        parent = self._tree(parent_id)
        if not os.path.isdir(parent):
            raise LayerNotFound(parent_id)
        try:
            run_tool("cp", "-a", "--reflink=auto", parent, tree)
        except BaseException:
            shutil.rmtree(tree, ignore_errors=True)
            raise

    def remove(self, layer_id: str) -> None:
        """Delete the tree."""
        shutil.rmtree(self._tree(layer_id), ignore_errors=True)

    def exists(self, layer_id: str) -> bool:
        """Whether the tree exists."""
        return os.path.isdir(self._tree(layer_id))

    def list_layers(self) -> list[str]:
        """Every tree."""
        return os.listdir(os.path.join(self.home, "dir"))

    def mount(self, layer_id: str) -> str:
        """The tree itself; nothing to mount."""
        if not self.exists(layer_id):
            raise LayerNotFound(layer_id)
        return self._tree(layer_id)

    def unmount(self, layer_id: str) -> None:
        """Nothing to unmount."""

    def is_mounted(self, layer_id: str) -> bool:
        """Trees are always available."""
        return self.exists(layer_id)

    @contextlib.contextmanager
    def read_only_view(self, layer_id: str) -> Iterator[str]:
        """The tree itself."""
        yield self.mount(layer_id)

    @contextlib.contextmanager
    def changes(self, layer_id: str, parent_id: str | None) -> Iterator[tuple[str, list[Change]]]:
        """Compare the tree with its parent's, entry by entry."""
        tree = self.mount(layer_id)
        parent = self.mount(parent_id) if parent_id else None
        yield tree, tree_changes(tree, parent)

    def apply_diff(
        self,
        layer_id: str,
        parent_id: str | None,
        layer_tar: BinaryIO,
        reuse_files_from: str | None = None,
    ) -> None:
        """Unpack into the copy of the parent, deleting what whiteouts name."""
        from bb.archive.extract import Whiteouts, extract_tar  # tarfile: only when applying

        extract_tar(
            layer_tar, self.mount(layer_id), Whiteouts.APPLY, reuse_files_from=reuse_files_from
        )

    def status(self) -> list[tuple[str, str]]:
        """Backing filesystem."""
        return [("Backing Filesystem", filesystem_type(self.home))]

    def cleanup(self) -> None:
        """vfs leaves nothing mounted."""
