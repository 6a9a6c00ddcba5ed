"""Registry credentials in the containers-auth.json format (what podman, buildah and skopeo share)."""

from __future__ import annotations

import base64
import json
import os

from bb.errors import InvalidArgument
from bb.system.atomic import write_atomic


def default_auth_file() -> str:
    """$REGISTRY_AUTH_FILE, else ~/.config/containers/auth.json."""
    return os.environ.get("REGISTRY_AUTH_FILE") or os.path.join(
        os.path.expanduser("~"), ".config", "containers", "auth.json")


def _read(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as auth_file:
            document = json.load(auth_file)
    except FileNotFoundError:
        return {"auths": {}}
    except ValueError:
        raise InvalidArgument(f"{path}: not a valid auth.json") from None
    document.setdefault("auths", {})
    return document


def credentials_for(registry: str, path: str | None = None) -> tuple[str, str] | None:
    """(user, password) stored for `registry`, if any."""
    entry = _read(path or default_auth_file())["auths"].get(registry)
    if not entry or "auth" not in entry:
        return None
    user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
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
        raise InvalidArgument('--creds: expected USER:PASSWORD')
    return user, password
