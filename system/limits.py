"""Bounds on what bb reads from untrusted places: archives, layouts, registries, config files."""

from __future__ import annotations

import json
from typing import Any, BinaryIO

from bb.errors import ArchiveError, BBError

# containers/image's limit (internal/iolimits) for manifests, indexes and image configs.
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
# Far deeper than any real manifest or config, far shallower than Python's recursion limit.
MAX_JSON_DEPTH = 64


def read_at_most(
    stream: BinaryIO, limit: int, what: str, error: type[BBError] = ArchiveError
) -> bytes:
    """All of `stream`, refused (without reading further) once it is longer than `limit` bytes."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise error(f"{what} is larger than {limit} bytes")
    return data


def _depth_exceeded(value: Any, depth: int) -> bool:
    if depth > MAX_JSON_DEPTH:
        return True
    if isinstance(value, dict):
        return any(_depth_exceeded(item, depth + 1) for item in value.values())
    if isinstance(value, list):
        return any(_depth_exceeded(item, depth + 1) for item in value)
    return False


def _parse_json(data: bytes, what: str, error: type[BBError]) -> Any:
    if len(data) > MAX_DOCUMENT_BYTES:
        raise error(f"{what} is larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        document = json.loads(data)
    except RecursionError:
        raise error(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:
        raise error(f"{what} is not valid JSON") from None
    if _depth_exceeded(document, 1):
        raise error(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels")
    return document


def parse_json_document(
    data: bytes, what: str, error: type[BBError] = ArchiveError
) -> dict[str, Any]:
    """Parse a JSON object of at most MAX_DOCUMENT_BYTES and MAX_JSON_DEPTH levels; anything
    else is `error`."""
    document = _parse_json(data, what, error)
    if not isinstance(document, dict):
        raise error(f"{what} is not a JSON object")
    return document


def parse_json_array(data: bytes, what: str, error: type[BBError] = ArchiveError) -> list[Any]:
    """Parse a JSON array (docker-archive's manifest.json) within the same bounds."""
    document = _parse_json(data, what, error)
    if not isinstance(document, list):
        raise error(f"{what} is not a JSON array")
    return document
