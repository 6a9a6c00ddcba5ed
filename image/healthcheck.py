"""Docker's Healthcheck config document, from `bb config --healthcheck*` or HEALTHCHECK."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bb.errors import InvalidArgument
from bb.system.units import parse_duration

# the timing options (HEALTHCHECK --NAME, bb config --healthcheck-NAME) and their config keys
DURATION_OPTIONS = {
    "interval": "Interval",
    "timeout": "Timeout",
    "start-period": "StartPeriod",
    "start-interval": "StartInterval",
}
OPTION_NAMES = frozenset({*DURATION_OPTIONS, "retries"})


@dataclass
class HealthcheckOptions:
    """The check command and its timing options, as given (durations like "30s")."""

    test: str
    interval: str | None = None
    timeout: str | None = None
    start_period: str | None = None
    start_interval: str | None = None
    retries: int | None = None


def healthcheck_config(
    options: HealthcheckOptions, flag_prefix: str = "--healthcheck-"
) -> dict[str, Any]:
    """The Healthcheck document; `NONE` disables an inherited check; JSON means exec form."""
    text = options.test.strip()
    if text.upper() == "NONE":
        return {"Test": ["NONE"]}
    if not text:
        raise InvalidArgument(f"{flag_prefix.rstrip('-')}: missing command")
    test: list[str] = ["CMD-SHELL", options.test]
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list) and parsed and all(isinstance(item, str) for item in parsed):
            test = parsed if parsed[0] in ("CMD", "CMD-SHELL") else ["CMD", *parsed]
    check: dict[str, Any] = {"Test": test}
    for name, key in DURATION_OPTIONS.items():
        value = getattr(options, name.replace("-", "_"))
        if value:
            check[key] = parse_duration(value, flag_prefix + name)
    if options.retries is not None:
        if options.retries < 0:
            raise InvalidArgument(f"{flag_prefix}retries must not be negative")
        check["Retries"] = options.retries
    return check
