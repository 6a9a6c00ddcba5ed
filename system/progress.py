"""Progress of layer transfers, on stderr as buildah and skopeo show it (containers/image's).

At a terminal each layer has one line, rewritten in place while it moves (several at once when
layers move in parallel): `Copying blob 3f4d90098f5b [=====>-----] 12.3MiB / 50.0MiB 4.1MiB/s`,
then `Copying blob 3f4d90098f5b done 50.0MiB in 12.2s`. Elsewhere (a log, a pipe) a layer gives
one line when it starts (`Copying blob sha256:…`, containers/image's) and one when it ends
(`Copying blob sha256:… done 50.0MiB in 12.2s (4.1MiB/s)`). A silent Progress (`-q`) prints
nothing.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO, TextIO

# how often a terminal's lines are redrawn at most (seconds)
REDRAW_INTERVAL = 0.1
BAR_WIDTH = 20
# as containers/image: digests shortened to 12 hex digits keep a terminal's lines in columns
SHORT_DIGEST = 12


def binary_size(size: float) -> str:
    """1024-based units with one decimal, as containers/image's progress bars print them."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f}{unit}" if unit != "B" else f"{int(size)}B"
        size /= 1024
    return f"{size}B"


class Bar:
    """One layer's transfer: `advance` as bytes move, `finish` at the end."""

    def __init__(self, progress: Progress, action: str, kind: str, digest: str | None, total: int):
        self.progress = progress
        self.action = action
        self.kind = kind
        self.digest = digest
        self.total = total
        self.done = 0
        self.started = time.monotonic()
        self.ended: float | None = None

    def advance(self, count: int) -> None:
        """`count` more bytes moved."""
        self.done += count
        self.progress._changed(self)

    def finish(self, digest: str | None = None) -> None:
        """The transfer is complete (a commit learns its layer's digest only now)."""
        self.digest = digest or self.digest
        self.ended = time.monotonic()
        self.progress._finished(self)

    def name(self, short: bool) -> str:
        """What is moving: its digest (shortened for a terminal), or the kind alone."""
        if self.digest is None:
            return f"{self.action} {self.kind}"
        shown = self.digest.split(":", 1)[-1][:SHORT_DIGEST] if short else self.digest
        return f"{self.action} {self.kind} {shown}"

    def rate(self) -> str:
        """Bytes per second so far."""
        seconds = max((self.ended or time.monotonic()) - self.started, 1e-6)
        return f"{binary_size(self.done / seconds)}/s"

    def line(self) -> str:
        """The terminal line as it stands."""
        if self.ended is not None:
            return f"{self.name(True)} done {binary_size(self.done)}"
        counters = binary_size(self.done)
        if self.total:
            filled = min(BAR_WIDTH, BAR_WIDTH * self.done // self.total)
            arrow = ">" if filled < BAR_WIDTH else ""
            bar = "=" * filled + arrow + "-" * (BAR_WIDTH - filled - len(arrow))
            counters = f"[{bar}] {counters} / {binary_size(self.total)}"
        return f"{self.name(True)} {counters} {self.rate()}"

    def summary(self) -> str:
        """The line a log gets when the transfer ends."""
        seconds = (self.ended or time.monotonic()) - self.started
        return f"{self.name(False)} done {binary_size(self.done)} in {seconds:.1f}s ({self.rate()})"


class Progress:
    """Where layer transfers are shown (a silent one shows nothing); safe across threads."""

    def __init__(self, stream: TextIO | None = None, terminal: bool | None = None):
        self.stream = stream
        self.terminal = (
            terminal if terminal is not None else bool(stream is not None and stream.isatty())
        )
        self._lock = threading.Lock()
        self._bars: list[Bar] = []
        self._drawn = 0
        self._last_draw = 0.0

    @classmethod
    def on_stderr(cls, quiet: bool = False) -> Progress:
        """bb's verbs' progress: on stderr, as buildah's, unless -q."""
        return cls(None if quiet else sys.stderr)

    @property
    def silent(self) -> bool:
        """Whether nothing is shown."""
        return self.stream is None

    def start(self, action: str, kind: str, digest: str | None, total: int = 0) -> Bar:
        """A transfer of `total` bytes (0: not known) begins."""
        bar = Bar(self, action, kind, digest, total)
        if self.silent:
            return bar
        with self._lock:
            self._bars.append(bar)
            if self.terminal:
                self._redraw()
            else:
                self._write(bar.name(False) + "\n")
        return bar

    def message(self, text: str) -> None:
        """A line of its own (a retry), above a terminal's layer lines."""
        if self.silent:
            return
        with self._lock:
            if self.terminal:
                self._redraw(before=text)
            else:
                self._write(text + "\n")

    def once(self, action: str, kind: str, digest: str, outcome: str) -> None:
        """A layer that needs no transfer (`skipped: already exists`): one line."""
        shown = digest.split(":", 1)[-1][:SHORT_DIGEST] if self.terminal else digest
        self.message(f"{action} {kind} {shown} {outcome}")

    @contextlib.contextmanager
    def reading(
        self, stream: BinaryIO, kind: str, digest: str | None, total: int | None = None
    ) -> Iterator[BinaryIO]:
        """`stream`, its reads counted as `Copying KIND DIGEST`; `total` defaults to the size
        of the file it is."""
        if self.silent:
            yield stream
            return
        if total is None:
            try:
                total = os.fstat(stream.fileno()).st_size
            except (AttributeError, OSError, ValueError):
                total = 0
        bar = self.start("Copying", kind, digest, total)
        yield _CountingReader(stream, bar)  # type: ignore[misc]
        bar.finish()

    def opener(
        self,
        open_stream: Callable[[], contextlib.AbstractContextManager[BinaryIO]],
        kind: str,
        digest: str | None,
        total: int | None = None,
    ) -> Callable[[], contextlib.AbstractContextManager[BinaryIO]]:
        """An opener of the stream `open_stream` opens, its reads counted (see `reading`)."""
        if self.silent:
            return open_stream

        @contextlib.contextmanager
        def opened() -> Iterator[BinaryIO]:
            with open_stream() as stream, self.reading(stream, kind, digest, total) as counted:
                yield counted

        return opened

    # --- drawing (under the lock) -------------------------------------------------------

    def _changed(self, bar: Bar) -> None:
        if self.silent or not self.terminal:
            return
        now = time.monotonic()
        if now - self._last_draw < REDRAW_INTERVAL:
            return
        with self._lock:
            self._redraw()

    def _finished(self, bar: Bar) -> None:
        if self.silent:
            return
        with self._lock:
            if not self.terminal:
                self._write(bar.summary() + "\n")
                return
            self._redraw()
            if all(bar.ended is not None for bar in self._bars):
                # these lines are final: what is printed next (a build's step) goes below them
                self._bars, self._drawn = [], 0

    def _redraw(self, before: str | None = None) -> None:
        """Rewrite the layer lines in place (a message first, which then stays above them)."""
        assert self.stream is not None
        try:  # the terminal stderr is on (stdout may be a pipe): a line as wide would wrap
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError):
            columns = 0
        width = columns - 1 if columns > 1 else None  # 0: a width not known, lines kept whole
        text = f"\x1b[{self._drawn}A" if self._drawn else ""
        if before is not None:
            text += f"\r\x1b[2K{before[:width]}\n"
        for bar in self._bars:
            text += f"\r\x1b[2K{bar.line()[:width]}\n"
        self._drawn = len(self._bars)
        self._last_draw = time.monotonic()
        self._write(text)

    def _write(self, text: str) -> None:
        assert self.stream is not None
        self.stream.write(text)
        self.stream.flush()


class _CountingReader:
    """A read-only stream whose reads advance a Bar."""

    def __init__(self, stream: BinaryIO, bar: Bar):
        self.stream = stream
        self.bar = bar

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.bar.advance(len(data))
        return data

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.stream.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move in the stream (a request sent again reads its body again), counted from there
        (the stream is counted from its start)."""
        position = self.stream.seek(offset, whence)
        self.bar.done = position
        return position


#: shows nothing: the default of every function that can show progress
SILENT = Progress()
