"""`isulad:NAME:TAG`: hand the image to iSulad as isula-build does: docker-archive, `isula load`."""

from __future__ import annotations

import os
import tempfile

from bb.errors import ArchiveError
from bb.image.reference import parse_reference
from bb.store.images import ImageRecord
from bb.store.store import Store
from bb.system.tools import run_tool
from bb.transports.base import StoredImage, Transport, TransportOptions
from bb.transports.docker_archive import write_docker_archive

# isula-build writes here; iSulad's daemon must be able to read the file
ARCHIVE_DIRECTORY = "/var/tmp"


class IsuladTransport(Transport):
    """iSulad's image store, through the `isula` client."""

    def export(
        self, store: Store, images: list[StoredImage], location: str, options: TransportOptions
    ) -> None:
        """Write a docker-archive to /var/tmp, `isula load` it, remove it."""
        for image in images:
            # iSulad keeps names as given: `isula rmi NAME` must find what `-o isulad:NAME` wrote
            names = [location] if location else image.names
            image.names = [parse_reference(name).familiar() for name in names]
        fd, path = tempfile.mkstemp(prefix="bb-isulad-", suffix=".tar", dir=ARCHIVE_DIRECTORY)
        try:
            with os.fdopen(fd, "wb") as archive:
                write_docker_archive(store, images, archive)
            run_tool("isula", "load", "-i", path)
        finally:
            os.unlink(path)

    def import_images(
        self, store: Store, location: str, options: TransportOptions
    ) -> list[ImageRecord]:
        """Reading from iSulad is not supported."""
        raise ArchiveError("isulad: images can be written to iSulad, not read from it")
