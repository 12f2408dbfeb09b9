"""The errors a flow reports to its user as one paragraph (no traceback) and a non-zero exit."""

from __future__ import annotations

import sys
import textwrap

from golden.bundle import BundleError
from golden.config import ConfigError
from golden.params import ParamError

__all__ = ["OutputError", "FlowError", "fail"]


class OutputError(ValueError):
    """An output location that cannot be written (e.g. ``OUT=`` names a file)."""


# what a user can cause and fix: a configuration, a weights file or bundle, an output path
FlowError = (ConfigError, ParamError, BundleError, OutputError)


def fail(prog, exc, status=2):
    """Prints ``exc`` as one wrapped paragraph under the program's name; returns ``status``."""
    text = " ".join(str(exc).split())
    print(textwrap.fill(f"{prog}: error: {text}", width=96, subsequent_indent="  "),
          file=sys.stderr)
    return status
