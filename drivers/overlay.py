"""The overlay driver: each layer a directory, a container's tree an overlayfs mount over them.

Layout under the driver's home:
  <id>/diff    the layer's own files (a container's upper directory)
  <id>/link    the layer's short name; l/<short name> -> ../<id>/diff
  <id>/lower   the parents' short names, nearest first, as overlay's lowerdir wants them
  <id>/work, <id>/merged   overlayfs's work directory and the mount point (container layers)
Short names keep the mount options under the kernel's one-page limit.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import os
import shutil
from collections.abc import Iterator
from typing import BinaryIO

from bb.archive.changes import Change, tree_changes
from bb.drivers.base import Driver, ensure_directory
from bb.errors import DriverNotSupported, LayerNotFound
from bb.system.mounts import filesystem_type, is_mounted, mount, mounts_under, unmount

# Features that would make an upper directory mean more than the OCI layer it
# must become (redirected renames, metadata-only copy-ups) stay off.
MOUNT_FEATURES = "index=off,redirect_dir=off,metacopy=off"

# The lower directory of a container on no image (overlayfs needs one).
EMPTY_LOWER = ".empty"

_view_counter = itertools.count()


class OverlayDriver(Driver):
    """Layers as directories stacked with the kernel's overlayfs."""

    name = "overlay"
    option_names = frozenset({"overlay.mountopt"})

    def __init__(self, home: str, run_home: str, options: dict[str, str]):
        super().__init__(home, run_home, options)
        ensure_directory(os.path.join(home, "l"))
        ensure_directory(os.path.join(home, EMPTY_LOWER), 0o755)

    @classmethod
    def check_supported(cls) -> None:
        """Overlayfs must be available in the running kernel."""
        with open("/proc/filesystems", encoding="ascii") as filesystems:
            if any(line.split()[-1] == "overlay" for line in filesystems if line.strip()):
                return
        raise DriverNotSupported(
            "storage driver overlay: not supported: "
            "the kernel has no overlayfs (try `modprobe overlay`)"
        )

    def _layer_dir(self, layer_id: str) -> str:
        return os.path.join(self.home, layer_id)

    def _lower_names(self, layer_id: str) -> list[str]:
        """Short names of `layer_id`'s own tree and every parent's, nearest first."""
        layer_dir = self._layer_dir(layer_id)
        if not os.path.isdir(layer_dir):
            raise LayerNotFound(layer_id)
        with open(os.path.join(layer_dir, "link"), encoding="ascii") as link:
            names = [link.read().strip()]
        lower_file = os.path.join(layer_dir, "lower")
        if os.path.exists(lower_file):
            with open(lower_file, encoding="ascii") as lower:
                names += [name for name in lower.read().strip().split(":") if name]
        return names

    def create(self, layer_id: str, parent_id: str | None, writable: bool = False) -> None:
        """Create `<id>/diff` and record the parent chain."""
        layer_dir = self._layer_dir(layer_id)
        lower = [f"l/{name}" for name in self._lower_names(parent_id)] if parent_id else []
        os.makedirs(layer_dir, mode=0o700)
        os.mkdir(os.path.join(layer_dir, "diff"), 0o755)
        short_name = base64.b32encode(os.urandom(16)).decode().rstrip("=")
        os.symlink(f"../{layer_id}/diff", os.path.join(self.home, "l", short_name))
        with open(os.path.join(layer_dir, "link"), "w", encoding="ascii") as link:
            link.write(short_name)
        if lower:
            with open(os.path.join(layer_dir, "lower"), "w", encoding="ascii") as lower_file:
                lower_file.write(":".join(name[2:] for name in lower))
        if writable:
            os.mkdir(os.path.join(layer_dir, "work"), 0o700)
            os.mkdir(os.path.join(layer_dir, "merged"), 0o700)

    def remove(self, layer_id: str) -> None:
        """Unmount and delete the layer and its short name."""
        layer_dir = self._layer_dir(layer_id)
        for point in mounts_under(layer_dir):
            unmount(point, lazy=True)
        with contextlib.suppress(FileNotFoundError):
            with open(os.path.join(layer_dir, "link"), encoding="ascii") as link:
                os.unlink(os.path.join(self.home, "l", link.read().strip()))
        shutil.rmtree(layer_dir, ignore_errors=True)

    def exists(self, layer_id: str) -> bool:
        """Whether `<id>/diff` exists."""
        return os.path.isdir(os.path.join(self._layer_dir(layer_id), "diff"))

    def list_layers(self) -> list[str]:
        """Every layer directory."""
        return [
            name
            for name in os.listdir(self.home)
            if name not in ("l", EMPTY_LOWER) and self.exists(name)
        ]

    def _mount_options(self, lower: list[str], layer_id: str | None) -> str:
        options = [f"lowerdir={':'.join(lower)}"]
        if layer_id is not None:
            options += [f"upperdir={layer_id}/diff", f"workdir={layer_id}/work"]
        options.append(MOUNT_FEATURES)
        if "overlay.mountopt" in self.options:
            options.append(self.options["overlay.mountopt"])
        return ",".join(options)

    def mount(self, layer_id: str) -> str:
        """Mount a container layer read-write at `<id>/merged`."""
        merged = os.path.join(self._layer_dir(layer_id), "merged")
        if is_mounted(merged):
            return merged
        names = self._lower_names(layer_id)[1:]
        lower = [f"l/{name}" for name in names] or [EMPTY_LOWER]
        mount("overlay", merged, "overlay", self._mount_options(lower, layer_id), cwd=self.home)
        return merged

    def unmount(self, layer_id: str) -> None:
        """Unmount `<id>/merged`."""
        unmount(os.path.join(self._layer_dir(layer_id), "merged"))

    def is_mounted(self, layer_id: str) -> bool:
        """Whether `<id>/merged` is mounted."""
        return is_mounted(os.path.join(self._layer_dir(layer_id), "merged"))

    @contextlib.contextmanager
    def read_only_view(self, layer_id: str) -> Iterator[str]:
        """The layer's tree: its directory if it has no parent, else a read-only overlay mount."""
        names = self._lower_names(layer_id)
        if len(names) == 1:
            yield os.path.join(self._layer_dir(layer_id), "diff")
            return
        views = ensure_directory(os.path.join(self.run_home, "views"))
        view = os.path.join(views, f"{os.getpid()}-{next(_view_counter)}")
        os.mkdir(view, 0o700)
        try:
            lower = [f"l/{name}" for name in names]
            mount(
                "overlay", view, "overlay", self._mount_options(lower, None) + ",ro", cwd=self.home
            )
            yield view
        finally:
            unmount(view, lazy=True)
            os.rmdir(view)

    @contextlib.contextmanager
    def changes(self, layer_id: str, parent_id: str | None) -> Iterator[tuple[str, list[Change]]]:
        """The upper directory and its changes against the parent's merged tree."""
        upper = os.path.join(self._layer_dir(layer_id), "diff")
        with self.parent_view(parent_id) as parent_view:
            yield upper, tree_changes(upper, parent_view, overlay_upper=True)

    def apply_diff(
        self,
        layer_id: str,
        parent_id: str | None,
        layer_tar: BinaryIO,
        reuse_files_from: str | None = None,
    ) -> None:
        """Unpack into `<id>/diff`, turning whiteouts into overlayfs markers."""
        from bb.archive.extract import Whiteouts, extract_tar  # tarfile: only when applying

        diff = os.path.join(self._layer_dir(layer_id), "diff")
        with self.parent_view(parent_id) as parent_view:
            extract_tar(layer_tar, diff, Whiteouts.OVERLAY, parent_view, reuse_files_from)

    def status(self) -> list[tuple[str, str]]:
        """Backing filesystem and feature flags."""
        return [
            ("Backing Filesystem", filesystem_type(self.home)),
            ("Mount Options", MOUNT_FEATURES),
        ]

    def cleanup(self) -> None:
        """Unmount read-only views left by processes that died."""
        views = os.path.join(self.run_home, "views")
        if not os.path.isdir(views):
            return
        for name in os.listdir(views):
            pid = name.split("-", 1)[0]
            if pid.isdigit() and os.path.exists(f"/proc/{pid}"):
                continue
            view = os.path.join(views, name)
            unmount(view, lazy=True)
            with contextlib.suppress(OSError):
                os.rmdir(view)
