"""Registry credentials in containers-auth.json format (what podman, buildah and skopeo share)."""

from __future__ import annotations

import base64
import json
import os

from bb.errors import InvalidArgument
from bb.system.atomic import write_atomic
from bb.system.limits import MAX_DOCUMENT_BYTES, parse_json_document, read_at_most


def default_auth_file() -> str:
    """$REGISTRY_AUTH_FILE, else ~/.config/containers/auth.json."""
    return os.environ.get("REGISTRY_AUTH_FILE") or os.path.join(
        os.path.expanduser("~"), ".config", "containers", "auth.json"
    )


def _read(path: str) -> dict:
    """The file's document, refused (naming the file) unless shaped as containers-auth.json says.

    As in containers/image, an entry's "auth" is decoded only when it is used: a broken
    entry can still be replaced by `bb login` or dropped by `bb logout`.
    """
    try:
        with open(path, "rb") as auth_file:
            data = read_at_most(auth_file, MAX_DOCUMENT_BYTES, path, InvalidArgument)
    except FileNotFoundError:
        return {"auths": {}}
    except OSError as failure:
        raise InvalidArgument(f"{path}: {failure.strerror or failure}") from None
    document = parse_json_document(data, path, InvalidArgument)
    auths = document.setdefault("auths", {})
    if not isinstance(auths, dict):
        raise InvalidArgument(f'{path}: "auths" is not a JSON object')
    for registry, entry in auths.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("auth", ""), str):
            raise InvalidArgument(
                f'{path}: the entry for "{registry}" is not an object with a string "auth"'
            )
    return document


def credentials_for(registry: str, path: str | None = None) -> tuple[str, str] | None:
    """(user, password) stored for `registry`, if any."""
    path = path or default_auth_file()
    entry = _read(path)["auths"].get(registry)
    if not entry or "auth" not in entry:
        return None
    try:
        decoded = base64.b64decode(entry["auth"], validate=True).decode()
        user, colon, password = decoded.partition(":")
    except ValueError:  # binascii.Error and UnicodeDecodeError both are
        user, colon = "", ""
    if not user or not colon:
        raise InvalidArgument(f'{path}: the "auth" of "{registry}" is not base64 of USER:PASSWORD')
    return user, password


def store_credentials(registry: str, user: str, password: str, path: str | None = None) -> str:
    """Remember credentials for `registry` (file mode 0600); return the file's path."""
    path = path or default_auth_file()
    document = _read(path)
    document["auths"][registry] = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
    os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
    write_atomic(path, json.dumps(document, indent=1).encode(), mode=0o600)
    return path


def forget_credentials(registry: str | None, path: str | None = None) -> bool:
    """Forget one registry's credentials (None: all); return whether there were any."""
    path = path or default_auth_file()
    document = _read(path)
    if registry is None:
        had = bool(document["auths"])
        document["auths"] = {}
    else:
        had = document["auths"].pop(registry, None) is not None
    if os.path.exists(path):
        write_atomic(path, json.dumps(document, indent=1).encode(), mode=0o600)
    return had


def parse_creds(text: str) -> tuple[str, str]:
    """--creds USER[:PASSWORD]."""
    user, _, password = text.partition(":")
    if not user:
        raise InvalidArgument("--creds: expected USER:PASSWORD")
    return user, password
