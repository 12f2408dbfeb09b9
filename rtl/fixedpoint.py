"""Fixed-point helpers for the gateware, mirroring ``golden.fixed`` (explicit widths,
explicit rounding, explicit saturation; no silent ``.eq()`` truncation)."""

from amaranth.hdl import Cat, Const, Mux, Value, signed

__all__ = ["round_half_up", "saturate", "rescale", "sign_extends"]


def round_half_up(v: Value, shift: int) -> Value:
    """``floor(v / 2**shift + 1/2)`` for ``shift > 0``; ``v << -shift`` otherwise (exact)."""
    v = v.as_signed() if not v.shape().signed else v
    if shift <= 0:
        return v << (-shift)
    return (v + (1 << (shift - 1))) >> shift


def saturate(v: Value, bits: int) -> Value:
    """Clamp a value to ``bits`` signed bits; the result has shape ``signed(bits)``. The
    range test is whether the bits above ``bits - 1`` all equal the sign (a reduction, not
    two wide comparisons)."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if not v.shape().signed:
        v = Cat(v, Const(0, 1)).as_signed()
    if v.shape().width <= bits:
        return v.as_signed()
    clamped = Mux(sign_extends(v, bits), v[:bits],
                  Mux(v[-1], Const(lo, signed(bits)), Const(hi, signed(bits))))
    return clamped[:bits].as_signed()


def rescale(v: Value, from_frac: int, fmt) -> Value:
    """Round half up from ``from_frac`` to ``fmt.frac`` fraction bits, then saturate to ``fmt``."""
    return saturate(round_half_up(v, from_frac - fmt.frac), fmt.bits)


def sign_extends(data: Value, bits: int) -> Value:
    """True when ``data`` is the sign extension of its low ``bits`` bits."""
    width = data.shape().width
    if width <= bits:
        return Const(1, 1)
    top = data[bits - 1:]
    return (top == 0) | (top == (1 << (width - bits + 1)) - 1)
