"""The guest's console and its ports bb.out, bb.err and bb.ctl, relayed on socketpairs."""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import time
from typing import BinaryIO

from . import report
from .report import debug

# The socketpairs to qemu: the serial console, the command's stdout and stderr, control.
PORTS = ("con", "out", "err", "ctl")


class Stream:
    """Relays one virtio port to a host fd, stopping at the end-of-stream marker."""

    def __init__(self, fd: int, marker: bytes):
        self.fd, self.marker = fd, marker
        self.pending = b""
        self.done = False  # marker seen
        self.broken = False  # host fd closed (EPIPE)

    def emit(self, data: bytes) -> None:
        """Write data to the host fd, unless it is closed."""
        if self.broken or not data:
            return
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
            except BrokenPipeError:
                self.broken = True
                return
            except InterruptedError:
                continue
            view = view[n:]

    def feed(self, data: bytes) -> None:
        """Relay what came from the port, holding back what may be the start of the marker."""
        if self.done:
            return
        buf = self.pending + data
        i = buf.find(self.marker)
        if i >= 0:
            self.emit(buf[:i])
            self.pending = b""
            self.done = True
            return
        keep = 0
        for k in range(min(len(buf), len(self.marker) - 1), 0, -1):
            if buf.endswith(self.marker[:k]):
                keep = k
                break
        self.emit(buf[: len(buf) - keep])
        self.pending = buf[len(buf) - keep :]

    def flush(self) -> None:
        """Relay what was held back (the guest ended without a marker)."""
        self.emit(self.pending)
        self.pending = b""


class GuestLink:
    """The socketpairs between run-in-vm and qemu, and what the guest said on them."""

    def __init__(self, marker: bytes):
        self.pairs = {name: socket.socketpair() for name in PORTS}
        self.out = Stream(1, marker)
        self.err = Stream(2, marker)
        self.timed_out = False
        self.started_at: float | None = None  # the guest said it started the command
        self.exit_seen_at: float | None = None  # the guest said the command exited

    def qemu_fds(self) -> dict[str, int]:
        """The file descriptors qemu gets, by port name."""
        return {name: b.fileno() for name, (_a, b) in self.pairs.items()}

    def close_qemu_ends(self) -> None:
        """Close our copies of qemu's ends, once qemu has them."""
        for _a, b in self.pairs.values():
            b.close()

    @property
    def output_complete(self) -> bool:
        """Whether both of the command's streams ended with their marker."""
        return self.out.done and self.err.done

    def relay(
        self,
        proc: subprocess.Popen[bytes],
        console: BinaryIO,
        deadline: float | None,
        boot_began: float,
    ) -> None:
        """Relay the ports until qemu has exited and both streams are drained.

        The console goes to `console`; qemu is killed at the deadline, and if the
        guest has not powered off 10 s after the host acknowledged the end of output.
        """
        streams = {"out": self.out, "err": self.err}
        sel = selectors.DefaultSelector()
        for name, (a, _b) in self.pairs.items():
            a.setblocking(False)
            sel.register(a, selectors.EVENT_READ, name)
        ctl_buf = b""
        acked_at = None
        while sel.get_map():
            now = time.monotonic()
            if deadline is not None and now >= deadline and proc.poll() is None:
                self.timed_out = True
                proc.kill()
            if acked_at is not None and now - acked_at > 10 and proc.poll() is None:
                debug("the guest did not power off; killing qemu")
                proc.kill()
            wait = 0.5 if deadline is None else max(0.01, min(0.5, deadline - now))
            for key, _ in sel.select(wait):
                name = key.data
                sock = self.pairs[name][0]
                try:
                    data = sock.recv(1 << 16)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(sock)
                    continue
                if name == "con":
                    console.write(data)
                    console.flush()
                    if report.VERBOSE:
                        os.write(2, data.replace(b"\r", b""))
                elif name == "ctl":
                    ctl_buf += data
                    while b"\n" in ctl_buf:
                        line, ctl_buf = ctl_buf.split(b"\n", 1)
                        if line == b"started":
                            self.started_at = time.monotonic()
                            debug(
                                f"command started {self.started_at - boot_began:.1f} s "
                                "after boot began"
                            )
                        elif line.startswith(b"exited"):
                            self.exit_seen_at = time.monotonic()
                else:
                    streams[name].feed(data)
            if acked_at is None and self.output_complete and self.exit_seen_at is not None:
                try:
                    self.pairs["ctl"][0].sendall(b"ok\n")
                except OSError:
                    pass
                acked_at = time.monotonic()
            if proc.poll() is not None and not any(
                k.data in ("out", "err") for k in sel.get_map().values()
            ):
                break

    def close(self) -> None:
        """Relay what the streams held back, and close every socket."""
        for s in (self.out, self.err):
            if not s.done:
                s.flush()
        for a, b in self.pairs.values():
            a.close()
            b.close()
