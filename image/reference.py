"""Image names: parsing, validation and normalisation (`busybox` -> `localhost/busybox:latest`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bb.errors import InvalidArgument

DEFAULT_TAG = "latest"
LOCAL_REGISTRY = "localhost"
DOCKER_HUB = "docker.io"

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
MAX_NAME_LENGTH = 255


@dataclass(frozen=True)
class Reference:
    """A fully qualified image reference."""

    registry: str
    repository: str
    tag: str | None = DEFAULT_TAG
    digest: str | None = None

    @property
    def name(self) -> str:
        """`registry/repository`, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        return self.name + self._suffix()

    def familiar(self) -> str:
        """The name as a user gives a local image: no `localhost/` (isula-build's, iSulad's)."""
        if self.registry == LOCAL_REGISTRY:
            return self.repository + self._suffix()
        return str(self)

    def _suffix(self) -> str:
        return (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


def _looks_like_domain(component: str) -> bool:
    return (
        "." in component
        or ":" in component
        or component == LOCAL_REGISTRY
        or component.startswith("[")
    )


def parse_reference(text: str, default_registry: str = LOCAL_REGISTRY) -> Reference:
    """Parse and validate an image reference, qualifying short names with `default_registry`."""
    original = text
    if not text:
        raise InvalidArgument("image name must not be empty")
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not _DIGEST.fullmatch(digest):
            raise InvalidArgument(f'invalid reference "{original}": bad digest "{digest}"')
    tag = None
    last_slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > last_slash:
        text, tag = text[:colon], text[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise InvalidArgument(f'invalid reference "{original}": bad tag "{tag}"')
    first, _, rest = text.partition("/")
    if rest and _looks_like_domain(first):
        registry, path = first, rest
        if not _DOMAIN.fullmatch(registry):
            raise InvalidArgument(f'invalid reference "{original}": bad registry "{registry}"')
    else:
        registry, path = default_registry, text
    if path != path.lower():
        raise InvalidArgument(f'invalid reference "{original}": repository name must be lowercase')
    for component in path.split("/"):
        if not _COMPONENT.fullmatch(component):
            raise InvalidArgument(f'invalid reference "{original}": bad repository name "{path}"')
    if registry == DOCKER_HUB and "/" not in path:
        path = "library/" + path
    if len(f"{registry}/{path}") > MAX_NAME_LENGTH:
        raise InvalidArgument(
            f'invalid reference "{original}": name longer than {MAX_NAME_LENGTH} characters'
        )
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return Reference(registry, path, tag, digest)


def is_qualified(text: str) -> bool:
    """Whether `text` names its registry explicitly."""
    first, _, rest = text.partition("/")
    return bool(rest) and _looks_like_domain(first)


def matches_repository_filter(name: str, query: str) -> bool:
    """Whether stored `name` is what `bb images REPOSITORY[:TAG]` asks for: short names match
    any registry."""
    try:
        stored = parse_reference(name)
        wanted = parse_reference(query)
    except InvalidArgument:
        return False
    has_tag = ":" in query.rsplit("/", 1)[-1]
    if has_tag and stored.tag != wanted.tag:
        return False
    if is_qualified(query):
        return stored.name == wanted.name
    return stored.repository.removeprefix("library/") == wanted.repository
