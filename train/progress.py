"""A dependency-free progress bar on stderr."""

import sys
import time


class Progress:
    def __init__(self, total, label, width=30, stream=sys.stderr):
        self.total, self.label, self.width, self.stream = max(total, 1), label, width, stream
        self.t0 = time.time()
        self.last = 0.0

    def update(self, n, info=""):
        now = time.time()
        if now - self.last < 0.5 and n < self.total:
            return
        self.last = now
        frac = n / self.total
        done = int(frac * self.width)
        rate = n / max(now - self.t0, 1e-9)
        eta = (self.total - n) / max(rate, 1e-9)
        self.stream.write(f"\r{self.label} [{'#' * done}{'.' * (self.width - done)}] "
                          f"{n}/{self.total} {info} eta {eta:5.0f}s")
        self.stream.flush()

    def close(self):
        self.stream.write("\n")
        self.stream.flush()
