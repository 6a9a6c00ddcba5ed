"""`RUN --mount=type=ssh`: the agent socket `bb build --ssh` names, forwarded into the step.

As BuildKit does, the step gets a socket of its own (with the mount's mode and owner) and each
connection to it is relayed to the agent's socket; the agent's keys never leave the agent.
Only agent sockets are taken: for key files, start `ssh-agent`, `ssh-add` them and give its
socket.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import stat
import threading
from collections.abc import Iterator

from bb.errors import InvalidArgument

# connections one step may have open to the agent at once
MAX_CONNECTIONS = 16
_POLL_SECONDS = 0.2


def parse_ssh(text: str) -> tuple[str, str]:
    """`bb build --ssh default`, `default=SOCKET` or `ID=SOCKET` -> (id, socket path)."""
    ssh_id, equals, path = text.partition("=")
    if not ssh_id:
        raise InvalidArgument(f'--ssh "{text}": expected ID[=SOCKET]')
    if not equals:
        path = os.environ.get("SSH_AUTH_SOCK", "")
        if not path:
            raise InvalidArgument(
                f"--ssh {ssh_id}: SSH_AUTH_SOCK is not set (give {ssh_id}=SOCKET)"
            )
    try:
        is_socket = stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError as failure:
        raise InvalidArgument(f"--ssh {ssh_id}: {path}: {failure.strerror}") from None
    if not is_socket:
        raise InvalidArgument(
            f"--ssh {ssh_id}: {path} is not a socket (only agent sockets are supported: "
            "ssh-add key files to an ssh-agent and give its socket)"
        )
    return ssh_id, os.path.abspath(path)


@contextlib.contextmanager
def _short(path: str) -> Iterator[str]:
    """`path` spelled short enough for a socket address (108 bytes), through its directory's fd."""
    fd = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{os.path.basename(path)}"
    finally:
        os.close(fd)


def _relay(client: socket.socket, agent: str, slots: threading.BoundedSemaphore) -> None:
    """Copy bytes both ways between a step's connection and the agent until either side closes."""
    try:
        with client, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as upstream:
            with _short(agent) as address:
                upstream.connect(address)
            peers = {client: upstream, upstream: client}
            with selectors.DefaultSelector() as selector:
                for end in peers:
                    selector.register(end, selectors.EVENT_READ)
                while True:
                    for key, _ in selector.select():
                        data = key.fileobj.recv(1 << 16)  # type: ignore[union-attr]
                        if not data:
                            return
                        peers[key.fileobj].sendall(data)  # type: ignore[index]
    except OSError:
        return
    finally:
        slots.release()


@contextlib.contextmanager
def forwarded_agent(agent: str, path: str, mode: int, uid: int, gid: int) -> Iterator[str]:
    """A socket at `path` (mode and owner as given) relaying to the agent at `agent`, for the
    block."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stop = threading.Event()
    slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not slots.acquire(blocking=False):
                client.close()
                continue
            client.settimeout(None)
            threading.Thread(target=_relay, args=(client, agent, slots), daemon=True).start()

    with listener:
        with _short(path) as address:
            listener.bind(address)
        os.chmod(path, mode)
        os.chown(path, uid, gid)
        listener.listen(MAX_CONNECTIONS)
        listener.settimeout(_POLL_SECONDS)
        server = threading.Thread(target=serve, daemon=True)
        server.start()
        try:
            yield path
        finally:
            stop.set()
            server.join()
