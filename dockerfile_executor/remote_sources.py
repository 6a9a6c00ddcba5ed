"""`ADD <http(s) URL>`: the file downloaded as docker does, into a directory COPY then reads;
`ADD <git URL>`: the repository checked out with the system's git.

Redirects are followed, proxies come from the environment, TLS is verified; the file is
named after the URL's last path component, gets mode 0600 and, when the server sends
Last-Modified, that time as mtime; it is never unpacked. `--checksum=sha256:HEX` is
checked before the file is used.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import os
import posixpath
import shutil
import urllib.error
import urllib.parse
import urllib.request

from bb.archive.securejoin import clean_relative, resolve_in_root
from bb.errors import ArchiveError, SourceError, ToolFailed
from bb.system.tools import run_tool

REMOTE_PREFIXES = ("http://", "https://")
GIT_PREFIXES = ("git@", "git://", "ssh://")
# how long one git command of an ADD may take, in seconds
GIT_TIMEOUT = 600
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


def is_git(source: str) -> bool:
    """Whether an ADD source is a git repository (BuildKit's rule: `git@`, `git://`, `ssh://`, or
    an http(s) or file URL whose path ends in `.git`), optionally `#REF[:SUBDIR]`."""
    if source.startswith(GIT_PREFIXES):
        return True
    url = source.partition("#")[0]
    return url.startswith((*REMOTE_PREFIXES, "file://")) and url.rstrip("/").endswith(".git")


def _git(*args: str, cwd: str | None = None) -> str:
    # no prompt for credentials, no hooks (none are cloned; a template's are left out too)
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_TEMPLATE_DIR": ""}
    return run_tool(
        "git", "-c", "core.hooksPath=/dev/null", *args, cwd=cwd, env=env, timeout=GIT_TIMEOUT
    ).strip()


def clone(source: str, directory: str, keep_git_dir: bool) -> tuple[str, str]:
    """Check out `URL#REF:SUBDIR` (REF: a branch, tag or commit; the default branch without one)
    in `directory`; the tree to copy (SUBDIR of it) and the commit checked out. Submodules are
    not fetched."""
    url, _, fragment = source.partition("#")
    ref, _, subdir = fragment.partition(":")
    if ref.startswith("-"):
        raise SourceError(f"ADD {url}: a ref may not start with -")
    checkout = os.path.join(directory, "checkout")
    try:
        _git("clone", "-q", "--no-checkout", "--", url, checkout)
        commit = ""
        for candidate in (
            [f"refs/remotes/origin/{ref}", f"refs/tags/{ref}", ref] if ref else ["HEAD"]
        ):
            with contextlib.suppress(ToolFailed):
                commit = _git(
                    "rev-parse", "-q", "--verify", f"{candidate}^{{commit}}", cwd=checkout
                )
                break
        if not commit:
            raise SourceError(f"ADD {url}: no branch, tag or commit {ref!r} in the repository")
        _git("checkout", "-q", "--detach", commit, cwd=checkout)
    except ToolFailed as failure:
        detail = failure.stderr.strip().splitlines()
        raise SourceError(f"ADD {url}: git: {detail[-1] if detail else failure}") from None
    if not keep_git_dir:
        shutil.rmtree(os.path.join(checkout, ".git"))
    try:
        tree = resolve_in_root(checkout, clean_relative(subdir))
    except ArchiveError:
        raise SourceError(f"ADD {url}: {subdir} is outside the repository") from None
    if not os.path.isdir(tree):
        raise SourceError(f"ADD {url}: no directory {subdir} in the repository")
    return tree, commit
