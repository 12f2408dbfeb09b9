"""Progress bars with the time left for the long jobs (training, evaluation, benchmark, soak,
synthesis), from tqdm: on a terminal a live bar on stderr; otherwise quiet, except for the
lines a job writes on purpose (``write``)."""

from __future__ import annotations

import sys

from tqdm import tqdm

__all__ = ["Progress"]


class Progress:
    """A bar over ``total`` units, advanced to an absolute position with ``update(n, info)``;
    ``start`` units are already done (a resumed run), so the estimate counts only new work."""

    def __init__(self, total, label, start=0, stream=sys.stderr, unit="step"):
        self.bar = tqdm(total=max(int(total), 1), initial=int(start), desc=label, unit=unit,
                        file=stream, disable=not stream.isatty(), dynamic_ncols=True,
                        smoothing=0.05, mininterval=0.5)
        self.stream = stream

    def update(self, n, info=""):
        n = min(int(n), self.bar.total)
        if n > self.bar.n:
            if info:
                self.bar.set_postfix_str(info, refresh=False)
            self.bar.update(n - self.bar.n)

    def write(self, text):
        """A line of its own above the bar (also when the bar is off)."""
        tqdm.write(text, file=self.stream)

    def close(self):
        self.bar.close()
