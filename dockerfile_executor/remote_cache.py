"""`bb build --layers --cache-to/--cache-from REPOSITORY`: a layer cache shared by registry.

As buildah 1.28's (imagebuildah/stage_executor.go): the image of each cacheable step is pushed
as `REPOSITORY:KEY`, KEY being the step's cache key (`cache_keys`), and a step this store has
no image for is pulled from `REPOSITORY:KEY` before it would be run. The keys are bb's own
(buildah hashes other things), so bb and buildah do not share one another's cache tags.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from bb.errors import BBError, InvalidArgument, ManifestUnknown, RegistryError
from bb.image.reference import Reference, parse_reference
from bb.store.store import Store
from bb.transports.base import TransportOptions, stored_image
from bb.transports.registry.pull import pull_image
from bb.transports.registry.push import push_image


def parse_cache_repository(flag: str, text: str) -> Reference:
    """`[docker://]REGISTRY/REPOSITORY` (a name without tag or digest, as buildah asks)."""
    name = text.removeprefix("docker://")
    last = name.rsplit("/", 1)[-1]
    if not name or "@" in name or ":" in last:
        raise InvalidArgument(
            f'{flag} "{text}": expected a repository, [docker://]REGISTRY/REPOSITORY, '
            "without tag or digest"
        )
    try:
        reference = parse_reference(name, default_registry="docker.io")
    except InvalidArgument as failure:
        raise InvalidArgument(f"{flag}: {failure}") from None
    return dataclasses.replace(reference, tag=None)


class RemoteCache:
    """Step images pushed to (`cache_to`) and pulled from (`cache_from`) a registry by key."""

    def __init__(
        self,
        store: Store,
        cache_from: Reference | None,
        cache_to: Reference | None,
        options: TransportOptions,
        report: Callable[[str], None],
    ):
        self.store = store
        self.cache_from = cache_from
        self.cache_to = cache_to
        self.options = options
        self.report = report

    def push(self, key: str, image_id: str) -> None:
        """With --cache-to, push the image of the step `key` as REPOSITORY:KEY."""
        if self.cache_to is None:
            return
        reference = dataclasses.replace(self.cache_to, tag=key)
        self.report(f"--> Pushing cache {reference}")
        image = stored_image(self.store, self.store.images.get(image_id), names=[])
        try:
            push_image(self.store, image, reference, self.options)
        except BBError as failure:
            raise RegistryError(f"pushing cache to {reference}: {failure}") from None

    def pull(self, key: str, parent_id: str | None) -> str | None:
        """With --cache-from, the image of the step `key` pulled from REPOSITORY:KEY, if the
        registry has one that continues `parent_id`'s layers."""
        if self.cache_from is None:
            return None
        reference = dataclasses.replace(self.cache_from, tag=key)
        try:
            # nameless, as the step images this store commits itself
            record = pull_image(self.store, reference, self.options, names=[])
        except ManifestUnknown:
            return None
        except BBError as failure:
            # as buildah: a cache that cannot be read only means the step is run
            self.report(f"[Warning] cache not pulled from {reference}: {failure}")
            return None
        parent = self.store.images.get(parent_id).layers if parent_id else []
        if record.layers[: len(parent)] != parent:
            self.report(f"[Warning] {reference} is not built on this step's parent: not used")
            return None
        self.report(f"--> Cache pulled from remote {reference}")
        return record.id
