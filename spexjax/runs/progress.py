"""A dependency-free progress line on stderr: rows done/total, cache hits, rate, ETA.

Auto mode (``enabled=None``) keeps short runs silent: on a terminal the line appears once a call has run
for ``delay`` seconds and refreshes in place; elsewhere (logs, CI) a plain line is printed every
``log_interval`` seconds, only for runs that last that long.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


def _fmt_time(seconds: float) -> str:
    seconds = int(max(0.0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    def __init__(
        self,
        total: int,
        desc: str = "queries",
        enabled: bool | None = None,
        *,
        stream: TextIO | None = None,
        delay: float = 0.5,
        log_interval: float = 30.0,
    ):
        self.total = int(total)
        self.desc = desc
        self.stream = stream if stream is not None else sys.stderr
        try:
            self.tty = bool(self.stream.isatty())
        except Exception:  # noqa: BLE001 - closed or odd streams are simply not terminals
            self.tty = False
        self.enabled = enabled
        self.delay = delay if enabled is None else 0.0
        self.interval = 0.1 if self.tty else (log_interval if enabled is None else 1.0)
        self.start = time.monotonic()
        self.done = 0
        self.cached = 0
        self._last = self.start if not self.tty else 0.0
        self._shown = False

    def update(self, rows: int, *, cached: bool = False) -> None:
        self.done += int(rows)
        if cached:
            self.cached += int(rows)
        if self.enabled is False:
            return
        now = time.monotonic()
        if now - self.start < self.delay or now - self._last < self.interval:
            return
        self._last = now
        self._write(now)

    def line(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        elapsed = max(now - self.start, 1e-9)
        fresh = self.done - self.cached
        rate = fresh / elapsed
        pct = 100.0 * self.done / self.total if self.total else 100.0
        left = self.total - self.done
        eta = _fmt_time(left / rate) if rate > 0 and left > 0 else ("0:00" if left <= 0 else "?")
        hits = f", {self.cached:,} cached" if self.cached else ""
        return (
            f"{self.desc}: {self.done:,}/{self.total:,} rows ({pct:.0f}%{hits}) "
            f"{rate:,.0f} rows/s, elapsed {_fmt_time(elapsed)}, ETA {eta}"
        )

    def _write(self, now: float) -> None:
        try:
            if self.tty:
                self.stream.write("\r" + self.line(now) + "\x1b[K")
            else:
                self.stream.write(self.line(now) + "\n")
            self.stream.flush()
            self._shown = True
        except Exception:  # noqa: BLE001 - a broken stderr must never break a run
            self.enabled = False

    def close(self) -> None:
        """Print the final line if anything was shown (or always when explicitly enabled)."""
        if self.enabled is False:
            return
        if self._shown or self.enabled is True:
            self._write(time.monotonic())
            if self.tty:
                try:
                    self.stream.write("\n")
                    self.stream.flush()
                except Exception:  # noqa: BLE001
                    pass
