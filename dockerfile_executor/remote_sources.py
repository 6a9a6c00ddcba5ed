"""`ADD <http(s) URL>`: the file downloaded as docker does, into a directory COPY then reads.

Redirects are followed, proxies come from the environment, TLS is verified; the file is
named after the URL's last path component, gets mode 0600 and, when the server sends
Last-Modified, that time as mtime; it is never unpacked. `--checksum=sha256:HEX` is
checked before the file is used.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import posixpath
import urllib.error
import urllib.parse
import urllib.request

from bb.errors import SourceError

REMOTE_PREFIXES = ("http://", "https://")
TIMEOUT = 60
CHUNK = 1 << 20
# what one ADD may download
MAX_DOWNLOAD_BYTES = 8 << 30


def is_remote(source: str) -> bool:
    """Whether an ADD source is a URL to download."""
    return source.startswith(REMOTE_PREFIXES)


def _file_name(url: str) -> str:
    name = posixpath.basename(urllib.parse.urlsplit(url).path)
    if not name or name in (".", ".."):
        # docker's fallback for a URL without a file name
        return "__unnamed__"
    return name


def download(url: str, directory: str, checksum: str | None) -> str:
    """Download `url` into `directory`; the file's name there (errors name the URL only)."""
    if checksum is not None and not checksum.startswith("sha256:"):
        raise SourceError("ADD --checksum: expected sha256:HEX")
    name = _file_name(url)
    path = os.path.join(directory, name)
    digest, size = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:  # noqa: S310 (http(s) only)
            modified = response.headers.get("Last-Modified")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as output:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    size += len(chunk)
                    if size > MAX_DOWNLOAD_BYTES:
                        raise SourceError(f"ADD {url}: larger than {MAX_DOWNLOAD_BYTES} bytes")
                    digest.update(chunk)
                    output.write(chunk)
    except urllib.error.HTTPError as failure:
        raise SourceError(
            f"ADD {url}: the server answered {failure.code} {failure.reason}"
        ) from None
    except (urllib.error.URLError, OSError) as failure:
        reason = getattr(failure, "reason", None) or getattr(failure, "strerror", None) or failure
        raise SourceError(f"ADD {url}: {reason}") from None
    if checksum is not None and checksum != "sha256:" + digest.hexdigest():
        raise SourceError(f"ADD {url}: checksum mismatch: got sha256:{digest.hexdigest()}")
    os.chmod(path, 0o600)
    if modified:
        with_zone = email.utils.parsedate_to_datetime(modified)
        os.utime(path, (with_zone.timestamp(), with_zone.timestamp()))
    return name
