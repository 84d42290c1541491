"""Progress bars on stderr for the command line: ``bar(done, total)`` callbacks, one line per stage."""

from __future__ import annotations

import sys
import time

REDRAW_SECONDS = 0.1


class ProgressBar:
    """A one-line bar redrawn in place on a terminal; elsewhere (a log file) only the final line is written.

    unit: "" for counts, "MB" for bytes (shown in megabytes).
    """

    def __init__(self, label: str, unit: str = "", stream=None, width: int = 28):
        self.label, self.unit, self.width = label, unit, width
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_draw = 0.0
        self._state = (0, 0)
        self._started = False
        self._closed = False

    def _amount(self, value: int) -> str:
        return f"{value / 1e6:.1f}" if self.unit == "MB" else str(value)

    def line(self) -> str:
        done, total = self._state
        unit = f" {self.unit}" if self.unit else ""
        if total > 0:
            filled = min(self.width, int(self.width * done / total))
            bar = "#" * filled + "-" * (self.width - filled)
            return f"{self.label} [{bar}] {self._amount(done)}/{self._amount(total)}{unit} {100 * done / total:3.0f}%"
        return f"{self.label} {self._amount(done)}{unit}"

    def __call__(self, done: int, total: int) -> None:
        self._state = (int(done), int(total))
        self._started = True
        now = time.monotonic()
        if self.interactive and (now - self._last_draw >= REDRAW_SECONDS or (total and done >= total)):
            self._last_draw = now
            self.stream.write("\r" + self.line())
            self.stream.flush()

    def close(self) -> None:
        """End the line (a no-op the second time, or when nothing was reported)."""
        if self._closed or not self._started:
            return
        self._closed = True
        self.stream.write(("\r" if self.interactive else "") + self.line() + "\n")
        self.stream.flush()


class StageBars:
    """``progress(stage, done, total)`` for the pipeline: one bar per stage, closed when the next begins."""

    def __init__(self, stream=None):
        self.stream = stream
        self._bar: ProgressBar | None = None
        self._stage: str | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage:
            self.close()
            self._stage, self._bar = stage, ProgressBar(f"{stage:<8}", stream=self.stream)
        self._bar(done, total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
