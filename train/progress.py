"""A dependency-free progress bar on stderr with the time left; quiet (one line per
``write``) when stderr is not a terminal."""

import sys
import time


class Progress:
    def __init__(self, total, label, width=30, stream=sys.stderr, start=0):
        self.total, self.label, self.width, self.stream = max(total, 1), label, width, stream
        self.start = start
        self.t0 = time.time()
        self.last = 0.0
        self.tty = stream.isatty()
        self.line = ""

    def update(self, n, info=""):
        now = time.time()
        interval = 0.5 if self.tty else 60.0
        if now - self.last < interval and n < self.total:
            return
        self.last = now
        frac = n / self.total
        done = int(frac * self.width)
        rate = (n - self.start) / max(now - self.t0, 1e-9)
        eta = (self.total - n) / max(rate, 1e-9)
        left = _clock(eta) if n > self.start else "?"
        self.line = (f"{self.label} [{'#' * done}{'.' * (self.width - done)}] {n}/{self.total} "
                     f"{info} {_clock(now - self.t0)} elapsed, {left} left")
        self.stream.write(("\r" + self.line) if self.tty else self.line + "\n")
        self.stream.flush()

    def write(self, text):
        """A line of its own above the bar."""
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        if self.tty and self.line:
            self.stream.write(self.line)
        self.stream.flush()

    def close(self):
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds):
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
