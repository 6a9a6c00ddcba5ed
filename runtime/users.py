"""Resolve `--user` / USER values against a container's /etc/passwd and /etc/group."""

from __future__ import annotations

from dataclasses import dataclass

from bb.archive.securejoin import resolve_in_root
from bb.errors import InvalidArgument


@dataclass(frozen=True)
class ResolvedUser:
    """The numeric identity a process runs with."""

    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    home: str


def read_colon_table(rootfs: str, path: str) -> list[list[str]]:
    """The entries of a passwd-style file inside the container, split on colons."""
    try:
        with open(resolve_in_root(rootfs, path), encoding="utf-8", errors="replace") as table:
            return [
                line.rstrip("\n").split(":")
                for line in table
                if line.strip() and not line.startswith("#")
            ]
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return []


# runc (and the kernel's user namespaces) take ids up to 2^31-1; a larger one failed inside runc.
MAX_ID = 2**31 - 1


def _numeric_id(text: str, what: str, user: str) -> int:
    """`text` as a uid or gid within runc's range, for `user`'s error message."""
    if not text.isdigit() or int(text) > MAX_ID:
        raise InvalidArgument(f'user "{user}": {what} "{text}" is not a number from 0 to {MAX_ID}')
    return int(text)


def resolve_user(rootfs: str, user: str) -> ResolvedUser:
    """Numeric uid/gid for `user` ("", "name", "uid", "name:group", "uid:gid") in the container."""
    user_part, _, group_part = (user or "0").partition(":")
    passwd = [entry for entry in read_colon_table(rootfs, "/etc/passwd") if len(entry) >= 6]
    entry = next((e for e in passwd if e[0] == user_part), None)
    if entry is None and user_part.isdigit():
        entry = next((e for e in passwd if e[2] == user_part), None)
    if entry is not None:
        uid, gid = _numeric_id(entry[2], "uid", user), _numeric_id(entry[3], "gid", user)
        home, name = entry[5], entry[0]
    elif user_part.isdigit():
        # Docker's rule: a uid the passwd file does not know runs with gid 0.
        uid, gid, home, name = _numeric_id(user_part, "uid", user), 0, "/", None
    else:
        raise InvalidArgument(f'user "{user_part}": no such user in the container\'s /etc/passwd')
    groups = [entry for entry in read_colon_table(rootfs, "/etc/group") if len(entry) >= 3]
    if group_part:
        group = next((g for g in groups if g[0] == group_part), None)
        if group is not None:
            gid = _numeric_id(group[2], "gid", user)
        elif group_part.isdigit():
            gid = _numeric_id(group_part, "gid", user)
        else:
            raise InvalidArgument(
                f'group "{group_part}": no such group in the container\'s /etc/group'
            )
    member_of = [g for g in groups if name and len(g) >= 4 and name in g[3].split(",")]
    additional = tuple(sorted({_numeric_id(g[2], "gid", user) for g in member_of} - {gid}))
    return ResolvedUser(uid, gid, additional, home or "/")
