"""Human-readable sizes, and durations as Go spells them."""

import re

from bb.errors import InvalidArgument


def human_size(size: float) -> str:
    """Decimal units, as buildah and docker print sizes ("4.53 MB")."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.3g} {unit}"
        size /= 1000
    return f"{size} B"


_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def parse_duration(text: str, flag: str) -> int:
    """A Go duration ("30s", "1m30s", "500ms") in nanoseconds (what Healthcheck stores; buildah's
    --retry-delay and --cache-ttl are such durations too)."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not text or "".join(number + unit for number, unit in parts) != text:
        raise InvalidArgument(f'{flag} "{text}": expected a duration such as 30s or 1m30s')
    return int(sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts))
