"""Fixed-point helpers for the gateware, mirroring ``golden.fixed`` (explicit widths,
explicit rounding, explicit saturation; no silent ``.eq()`` truncation)."""

from amaranth.hdl import Cat, Const, Mux, Value, signed

__all__ = ["round_half_up", "saturate", "rescale", "sign_extends"]


def round_half_up(v: Value, shift: int) -> Value:
    """``floor(v / 2**shift + 1/2)`` for ``shift > 0``; ``v << -shift`` otherwise (exact). An
    unsigned ``v`` is zero-extended."""
    v = v if v.shape().signed else Cat(v, Const(0, 1)).as_signed()
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
    """Round half up from ``from_frac`` to ``fmt.frac`` fraction bits, then saturate to ``fmt``.

    Same result as ``saturate(round_half_up(v, shift), fmt.bits)``, built so that no carry
    runs over the full input width: with ``t = v >> shift`` and ``half`` the bit below it,
    the rounded value is ``t + half``; it is in range exactly when ``t`` is (a reduction
    over the bits above ``fmt.bits``, beside the adder) and not ``t = max`` with ``half``
    set, so only the low ``fmt.bits`` of ``t`` go through the adder."""
    shift, bits = from_frac - fmt.frac, fmt.bits
    v = v if v.shape().signed else Cat(v, Const(0, 1)).as_signed()
    if shift <= 0 or v.shape().width - shift <= bits:
        return saturate(round_half_up(v, shift), bits)
    t = v[shift:].as_signed()
    half = v[shift - 1]
    low = t[:bits].as_signed()
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    in_range = sign_extends(t, bits) & ~(half & (low == hi))
    rounded = (low + half)[:bits].as_signed()
    clamped = Mux(in_range, rounded, Mux(t[-1], Const(lo, signed(bits)), Const(hi, signed(bits))))
    return clamped[:bits].as_signed()


def sign_extends(data: Value, bits: int) -> Value:
    """True when ``data`` is the sign extension of its low ``bits`` bits."""
    width = data.shape().width
    if width <= bits:
        return Const(1, 1)
    top = data[bits - 1:]
    return (top == 0) | (top == (1 << (width - bits + 1)) - 1)
