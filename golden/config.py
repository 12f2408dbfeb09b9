"""Accelerator configuration: a frozen, validated description loaded from TOML.

Every error names the field, the offending value and what is allowed, so a user can fix a
configuration file without reading this module.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from .fixed import Format
from .layout import N_GATES

__all__ = ["ConfigError", "Config", "Formats", "load_config", "config_from_dict",
           "DEFAULT_CONFIG", "REQUIRED_KEYS"]

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "default.toml"

# Operand widths the lanes support: one ECP5 MULT18X18D per multiply.
_OPERAND_BITS = (2, 18)
_LIMITS = {
    "input": _OPERAND_BITS,
    "weight": _OPERAND_BITS,
    "state": _OPERAND_BITS,
    "bias": (2, 32),
    "cell": (2, 24),
}
_USER_FORMATS = tuple(_LIMITS)
REQUIRED_KEYS = ("input_size", "hidden_size")       # a configuration file must set these
_MEANING = {"input_size": "X, elements of each input vector x_t",
            "hidden_size": "H, the LSTM's hidden units"}


class ConfigError(ValueError):
    """An invalid configuration; the message names the field, the value and what is allowed."""


def _fail(field_name, value, allowed):
    raise ConfigError(f"config field '{field_name}' = {value!r} is invalid: {allowed}")


def _as_int(field_name, value):
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(field_name, value, "must be an integer")
    return value


def default_cell_units(lanes):
    """The fewest shared cell units that keep a row at most 16 cycles long (a divisor of
    ``lanes``)."""
    if lanes < 1:
        return 1
    return next(p for p in range(1, lanes + 1) if lanes % p == 0 and lanes // p <= 16)


@dataclass(frozen=True)
class Formats:
    """The user formats: ``input`` (x), ``weight``, ``bias``, ``state`` (h), ``cell`` (c)."""

    input: Format = Format(16, 12)
    weight: Format = Format(8, 6)
    bias: Format = Format(16, 12)
    state: Format = Format(16, 12)
    cell: Format = Format(16, 11)

    NAMES: ClassVar[tuple] = _USER_FORMATS

    @classmethod
    def from_mapping(cls, formats: Mapping):
        """From ``{name: Format}`` with every name of ``NAMES``."""
        missing = [k for k in cls.NAMES if k not in formats]
        if missing:
            _fail("formats", sorted(formats), f"missing formats {missing}")
        extra = [k for k in formats if k not in cls.NAMES]
        if extra:
            _fail("formats", sorted(formats), f"unknown formats {extra}; "
                                              f"allowed: {list(cls.NAMES)}")
        return cls(**{k: formats[k] for k in cls.NAMES})

    def items(self):
        return [(k, getattr(self, k)) for k in self.NAMES]

    def to_dict(self):
        return {k: v.to_dict() for k, v in self.items()}

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Config:
    """Resolved accelerator configuration.

    Members
    -------
    name : top-level Verilog module name.
    input_size, hidden_size : X and H of the LSTM layer.
    lanes : N, multiply-accumulate lanes; lane k owns hidden units k, k+N, ...
    cell_units : P, shared activation / cell-update units (each takes one row result per
        cycle); a row then takes at least ``min_columns = N / P`` cycles. Default (None): the
        smallest divisor of N with ``N / P <= 16`` (64 lanes: 4; 16 or fewer: 1).
    overlap : step t+1's x columns are computed while step t drains, into a partial sum per
        gate row (``golden.cycles``); off by default (the cycle model of docs/contract.md
        section 6 then holds as stated).
    formats : the user formats (:class:`Formats`; a mapping of them is converted).
    act_input : format of a gate pre-activation at the sigmoid/tanh input.
    gate : format of sigmoid/tanh outputs.
    act_segments : number of piecewise-linear segments of the sigmoid table.
    """

    name: str = "skiplstm"
    input_size: int = 50
    hidden_size: int = 256
    lanes: int = 64
    cell_units: int | None = None
    overlap: bool = False
    formats: Formats = field(default_factory=Formats)
    act_input: Format = Format(15, 10)
    gate: Format = Format(16, 14)
    act_segments: int = 512

    def __post_init__(self):
        if isinstance(self.formats, Mapping):
            object.__setattr__(self, "formats", Formats.from_mapping(self.formats))
        if self.cell_units is None and isinstance(self.lanes, int) \
                and not isinstance(self.lanes, bool):
            object.__setattr__(self, "cell_units", default_cell_units(self.lanes))
        self.validate()

    # -- derived quantities -------------------------------------------------------------

    @property
    def X(self):
        return self.input_size

    @property
    def H(self):
        return self.hidden_size

    @property
    def N(self):
        return self.lanes

    @property
    def min_columns(self):
        """m: the fewest cycles a gate row takes (the P shared units drain N row results)."""
        return self.lanes // self.cell_units

    @property
    def columns(self):
        """Length of v_t = [x_t ; h_{t-1}]."""
        return self.input_size + self.hidden_size

    @property
    def rows_per_lane(self):
        """Gate rows each lane computes per step: G H / N (``golden.layout``, G = 4 gates)."""
        return N_GATES * self.hidden_size // self.lanes

    @property
    def x_groups(self):
        """Groups of N consecutive input elements (the last may be partial)."""
        return -(-self.input_size // self.lanes)

    @property
    def h_groups(self):
        """Groups of N consecutive hidden units: unit group j is units jN .. jN+N-1."""
        return self.hidden_size // self.lanes

    @property
    def vector(self) -> Format:
        """Common format of the v_t elements fed to the multipliers (x and h aligned, exact)."""
        x, h = self.formats.input, self.formats.state
        frac = max(x.frac, h.frac)
        ibits = max(x.bits - x.frac, h.bits - h.frac)
        return Format(ibits + frac, frac)

    @property
    def product(self) -> Format:
        w, v = self.formats.weight, self.vector
        return Format(w.bits + v.bits, w.frac + v.frac)

    @property
    def accumulator(self) -> Format:
        """Wide enough that no partial sum of any column order can overflow."""
        w, v, b = self.formats.weight, self.vector, self.formats.bias
        frac = self.product.frac
        max_abs = self.columns * (1 << (w.bits - 1)) * (1 << (v.bits - 1)) \
            + (1 << (b.bits - 1 + frac - b.frac))
        return Format(max_abs.bit_length() + 1, frac)

    @property
    def table_bits(self):
        return int(math.log2(self.act_segments))

    def internal_formats(self):
        return {
            "vector": self.vector, "product": self.product, "accumulator": self.accumulator,
            "act_input": self.act_input, "gate": self.gate,
        }

    def to_dict(self):
        return {
            "name": self.name, "input_size": self.input_size, "hidden_size": self.hidden_size,
            "lanes": self.lanes, "cell_units": self.cell_units, "overlap": self.overlap,
            "formats": self.formats.to_dict(),
            "internal": {"act_input": self.act_input.to_dict(), "gate": self.gate.to_dict(),
                         "act_segments": self.act_segments},
        }

    def replace(self, **changes):
        """A copy with ``changes``; a new lane count without ``cell_units`` takes the default
        number of cell units for it."""
        if "lanes" in changes and "cell_units" not in changes:
            changes["cell_units"] = None
        return dataclasses.replace(self, **changes)

    # -- validation -----------------------------------------------------------------------

    def validate(self):
        if not isinstance(self.name, str) or not self.name.isidentifier() \
                or not self.name.isascii():
            _fail("name", self.name, "must be a Verilog identifier (letters, digits, '_')")
        for key in ("input_size", "hidden_size"):
            v = _as_int(key, getattr(self, key))
            if not 1 <= v <= 4096:
                _fail(key, v, "must be in [1, 4096]")
        n = _as_int("lanes", self.lanes)
        if not 1 <= n <= self.hidden_size:
            _fail("lanes", n, f"must be in [1, hidden_size={self.hidden_size}]")
        if self.hidden_size % n:
            divisors = [d for d in range(1, self.hidden_size + 1) if self.hidden_size % d == 0]
            _fail("lanes", n, f"must divide hidden_size={self.hidden_size} (lanes own whole "
                              f"hidden units); allowed: {divisors}")
        p = _as_int("cell_units", self.cell_units)
        if not 1 <= p <= n or n % p:
            divisors = [d for d in range(1, n + 1) if n % d == 0]
            _fail("cell_units", p, f"must divide lanes={n} (each unit serves N/P lanes); "
                                   f"allowed: {divisors}")
        if not isinstance(self.overlap, bool):
            _fail("overlap", self.overlap, "must be true or false")
        if not isinstance(self.formats, Formats):
            _fail("formats", self.formats, "must be a table of the formats "
                                           f"{list(_USER_FORMATS)}")
        for key, (lo, hi) in _LIMITS.items():
            fmt = getattr(self.formats, key)
            if not isinstance(fmt, Format):
                _fail(f"formats.{key}", fmt, "must be a {bits, frac} table")
            if not lo <= fmt.bits <= hi:
                _fail(f"formats.{key}.bits", fmt.bits, f"must be in [{lo}, {hi}]")
            if not 0 <= fmt.frac <= fmt.bits - 1:
                _fail(f"formats.{key}.frac", fmt.frac,
                      f"must be in [0, bits-1] = [0, {fmt.bits - 1}]")
        if self.vector.bits > 24:
            _fail("formats.input/state", (self.formats.input, self.formats.state),
                  f"aligned vector format needs {self.vector.bits} bits; at most 24 allowed")
        b, p = self.formats.bias, self.product
        if b.frac > p.frac:
            _fail("formats.bias.frac", b.frac,
                  f"must be <= weight.frac + max(input.frac, state.frac) = {p.frac}")
        if self.accumulator.bits > 62:
            _fail("formats", "accumulator", f"needs {self.accumulator.bits} bits; at most 62")
        a = self.act_input
        if not isinstance(a, Format) or not 6 <= a.bits <= 20 or a.bits - a.frac != 5:
            _fail("internal.act_input", a, "must have bits in [6, 20] and bits - frac = 5 "
                                           "(sigmoid input range [-16, 16))")
        g = self.gate
        if not isinstance(g, Format) or not 4 <= g.bits <= 18 or g.bits - g.frac != 2:
            _fail("internal.gate", g, "must have bits in [4, 18] and bits - frac = 2 "
                                      "(signed range [-2, 2) holds 1.0)")
        s = _as_int("internal.act_segments", self.act_segments)
        if s < 2 or s & (s - 1) or s > (1 << a.bits):
            _fail("internal.act_segments", s,
                  f"must be a power of two in [2, 2**act_input.bits = {1 << a.bits}]")


def _format_from(field_name, value):
    if isinstance(value, Format):
        return value
    if not isinstance(value, dict) or set(value) != {"bits", "frac"}:
        _fail(field_name, value, "must be a table with exactly the keys 'bits' and 'frac'")
    return Format(_as_int(f"{field_name}.bits", value["bits"]),
                  _as_int(f"{field_name}.frac", value["frac"]))


def config_from_dict(data: dict) -> Config:
    """Build a validated :class:`Config` from the TOML structure (missing keys take defaults)."""
    if not isinstance(data, dict):
        _fail("<root>", data, "must be a table")
    known = {"name", "input_size", "hidden_size", "lanes", "cell_units", "overlap", "formats",
             "internal"}
    unknown = sorted(set(data) - known)
    if unknown:
        _fail(unknown[0], data[unknown[0]], f"unknown key; allowed keys: {sorted(known)}")
    for key in REQUIRED_KEYS:
        if key not in data:
            raise ConfigError(f"config field '{key}' is missing: it is required (an integer in "
                              f"[1, 4096]; {_MEANING[key]}); the keys given are {sorted(data)}")
    default = Config()
    kwargs = {k: data[k] for k in ("name", "input_size", "hidden_size", "lanes", "cell_units",
                                   "overlap") if k in data}
    fmts = dict(default.formats.items())
    user = data.get("formats", {})
    if not isinstance(user, dict):
        _fail("formats", user, "must be a table")
    for key, value in user.items():
        if key not in _USER_FORMATS:
            _fail(f"formats.{key}", value, f"unknown format; allowed: {list(_USER_FORMATS)}")
        fmts[key] = _format_from(f"formats.{key}", value)
    kwargs["formats"] = fmts
    internal = data.get("internal", {})
    if not isinstance(internal, dict):
        _fail("internal", internal, "must be a table")
    for key, value in internal.items():
        if key in ("act_input", "gate"):
            kwargs[key] = _format_from(f"internal.{key}", value)
        elif key == "act_segments":
            kwargs[key] = value
        else:
            _fail(f"internal.{key}", value,
                  "unknown key; allowed: ['act_input', 'gate', 'act_segments']")
    return Config(**kwargs)


def load_config(path=DEFAULT_CONFIG) -> Config:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {str(path)!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"configuration file {str(path)!r} is not UTF-8 text (TOML)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {str(path)!r} is not valid TOML: {exc}") from None
    try:
        return config_from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"configuration file {str(path)!r}: {exc}") from None
