"""LSTM parameters: import (PyTorch ``nn.LSTM`` / state_dict, ``.npz``), quantisation to the
hardware formats, and the parameter-load stream image.

This is the only way weights enter the hardware: float parameters are checked, quantised here
(round half to even, saturating, saturation counts reported) and turned into the beat sequence
of ``s_axis_w`` or into the initial contents of the lane memories.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import Config
from .fixed import dequantize, quantize
from .layout import GATES, N_GATES

__all__ = ["ParamError", "FloatParams", "QuantParams", "from_torch", "from_npz",
           "quantize_params", "stream_image", "param_order", "load_quant_npz", "save_quant_npz",
           "read_npz"]


class ParamError(ValueError):
    """Parameters with a wrong shape, type or value; the message names the tensor."""


def read_npz(path, what="weights file"):
    """All arrays of an ``.npz`` as a dict; a missing, empty, truncated or corrupt file raises
    :class:`ParamError` naming the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise ParamError(f"{what} {str(path)!r} does not exist or is not a file")
    if path.stat().st_size == 0:
        raise ParamError(f"{what} {str(path)!r} is empty (0 bytes); expected an .npz archive "
                         "written by numpy.savez")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != b"PK\x03\x04":
        raise ParamError(f"{what} {str(path)!r} is not an .npz archive (it does not start with "
                         f"the zip signature); expected a file written by numpy.savez")
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise ParamError(f"{what} {str(path)!r} holds a single array (.npy); expected "
                                 "an .npz archive of named arrays")
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, zlib.error, OSError, ValueError) as exc:
        raise ParamError(f"{what} {str(path)!r} cannot be read: it is not a complete .npz "
                         f"archive (truncated or corrupted?): {type(exc).__name__}: {exc}") \
            from None


def _check(name, array, shape):
    try:
        a = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParamError(f"parameter '{name}' is not numeric") from None
    if a.shape != tuple(shape):
        raise ParamError(f"parameter '{name}' has shape {tuple(a.shape)}; expected "
                         f"{tuple(shape)}")
    bad = ~np.isfinite(a)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ParamError(f"parameter '{name}' has a non-finite value {float(a[idx])} at index "
                         f"{idx}; only finite numbers are allowed")
    return a


@dataclass(frozen=True)
class FloatParams:
    """Float LSTM parameters in PyTorch layout, gate order ``golden.layout.GATES`` (i, f, g, o).

    ``w_ih``: (G H, X), ``w_hh``: (G H, H), ``b``: (G H,) = b_ih + b_hh; G = 4 gates.
    """

    w_ih: np.ndarray
    w_hh: np.ndarray
    b: np.ndarray

    @classmethod
    def checked(cls, w_ih, w_hh, b_ih, b_hh=None, input_size=None, hidden_size=None):
        w_hh_a = np.asarray(w_hh)
        if w_hh_a.ndim != 2 or w_hh_a.shape[0] != N_GATES * w_hh_a.shape[1]:
            raise ParamError(f"parameter 'weight_hh' has shape {tuple(w_hh_a.shape)}; "
                             f"expected ({N_GATES}H, H)")
        H = hidden_size or w_hh_a.shape[1]
        X = input_size or np.asarray(w_ih).shape[-1]
        G = N_GATES
        w_ih = _check("weight_ih", w_ih, (G * H, X))
        w_hh = _check("weight_hh", w_hh, (G * H, H))
        b = _check("bias_ih", b_ih, (G * H,))
        if b_hh is not None:
            b = b + _check("bias_hh", b_hh, (G * H,))
        return cls(w_ih, w_hh, b)

    @property
    def input_size(self):
        return self.w_ih.shape[1]

    @property
    def hidden_size(self):
        return self.w_hh.shape[1]

    def check_config(self, cfg: Config):
        if (self.input_size, self.hidden_size) != (cfg.input_size, cfg.hidden_size):
            raise ParamError(f"parameters are for input_size={self.input_size}, "
                             f"hidden_size={self.hidden_size}; the configuration has "
                             f"input_size={cfg.input_size}, hidden_size={cfg.hidden_size}")


def from_torch(module_or_state_dict, layer=0) -> FloatParams:
    """Parameters of one layer of a PyTorch ``nn.LSTM`` (module or its ``state_dict``)."""
    sd = module_or_state_dict
    if hasattr(sd, "state_dict"):
        mod = sd
        if getattr(mod, "bidirectional", False) or getattr(mod, "proj_size", 0):
            raise ParamError("only unidirectional nn.LSTM without projection is supported")
        sd = mod.state_dict()
    keys = [f"weight_ih_l{layer}", f"weight_hh_l{layer}"]
    for k in keys:
        if k not in sd:
            raise ParamError(f"state_dict has no '{k}'; found {sorted(sd)}")

    def arr(k):
        v = sd[k]
        return v.detach().cpu().double().numpy() if hasattr(v, "detach") else np.asarray(v)

    w_ih, w_hh = arr(keys[0]), arr(keys[1])
    H = w_hh.shape[1] if w_hh.ndim == 2 else None
    zero = np.zeros(w_hh.shape[0] if w_hh.ndim == 2 else 0)
    b_ih = arr(f"bias_ih_l{layer}") if f"bias_ih_l{layer}" in sd else zero
    b_hh = arr(f"bias_hh_l{layer}") if f"bias_hh_l{layer}" in sd else zero
    return FloatParams.checked(w_ih, w_hh, b_ih, b_hh, hidden_size=H)


def from_npz(path) -> FloatParams:
    """Float parameters from an ``.npz`` with ``weight_ih``, ``weight_hh``, ``bias_ih`` and
    optionally ``bias_hh`` (PyTorch layout)."""
    path = Path(path)
    data = read_npz(path)
    for k in ("weight_ih", "weight_hh", "bias_ih"):
        if k not in data:
            raise ParamError(f"weights file {str(path)!r} has no array '{k}'; found "
                             f"{sorted(data)}")
    return FloatParams.checked(data["weight_ih"], data["weight_hh"], data["bias_ih"],
                               data.get("bias_hh"))


@dataclass(frozen=True)
class QuantParams:
    """Integer parameters: weights in the weight format, the folded bias in the bias format."""

    w_ih: np.ndarray   # (G H, X) int64
    w_hh: np.ndarray   # (G H, H) int64
    b: np.ndarray      # (G H,)   int64
    saturated: dict

    @property
    def W(self):
        """W = [W_ih | W_hh], (G H, X + H)."""
        return np.concatenate([self.w_ih, self.w_hh], axis=1)

    def check(self, cfg: Config):
        X, H, G = cfg.input_size, cfg.hidden_size, N_GATES
        wf, bf = cfg.formats.weight, cfg.formats.bias
        for name, a, shape, fmt in (("w_ih", self.w_ih, (G * H, X), wf),
                                    ("w_hh", self.w_hh, (G * H, H), wf),
                                    ("b", self.b, (G * H,), bf)):
            if a.shape != shape:
                raise ParamError(f"quantised parameter '{name}' has shape {a.shape}; "
                                 f"expected {shape}")
            if a.size and (a.min() < fmt.min or a.max() > fmt.max):
                raise ParamError(f"quantised parameter '{name}' has values in "
                                 f"[{a.min()}, {a.max()}]; format {fmt} allows "
                                 f"[{fmt.min}, {fmt.max}]")
        return self

    def to_float(self, cfg: Config) -> FloatParams:
        wf, bf = cfg.formats.weight, cfg.formats.bias
        return FloatParams(dequantize(self.w_ih, wf), dequantize(self.w_hh, wf),
                           dequantize(self.b, bf))


def quantize_params(params: FloatParams, cfg: Config, mode="half_even") -> QuantParams:
    params.check_config(cfg)
    wf, bf = cfg.formats.weight, cfg.formats.bias
    w_ih, s1 = quantize(params.w_ih, wf, mode, "weight_ih")
    w_hh, s2 = quantize(params.w_hh, wf, mode, "weight_hh")
    b, s3 = quantize(params.b, bf, mode, "bias")
    return QuantParams(w_ih, w_hh, b, {"w_ih": s1, "w_hh": s2, "b": s3})


def save_quant_npz(path, q: QuantParams):
    np.savez(path, w_ih=q.w_ih, w_hh=q.w_hh, b=q.b)


def load_quant_npz(path, cfg: Config) -> QuantParams:
    """Integer parameters (``w_ih``, ``w_hh``, ``b``) from an ``.npz``, checked against ``cfg``."""
    path = Path(path)
    data = read_npz(path)
    for k in ("w_ih", "w_hh", "b"):
        if k not in data:
            raise ParamError(f"weights file {str(path)!r} has no array '{k}'; found "
                             f"{sorted(data)}")
        if data[k].dtype.kind not in "iu":
            raise ParamError(f"array '{k}' of {str(path)!r} has dtype {data[k].dtype}; "
                             f"quantised parameters must be integers")
    return QuantParams(data["w_ih"].astype(np.int64), data["w_hh"].astype(np.int64),
                       data["b"].astype(np.int64), {}).check(cfg)


def param_order(cfg: Config):
    """The ``s_axis_w`` load order, as words: (tensor, shape, count) in beat order."""
    X, H, G = cfg.input_size, cfg.hidden_size, N_GATES
    rows = f"gate rows {','.join(GATES)}"
    return [
        {"tensor": "W_ih", "shape": [G * H, X], "order": f"row-major, {rows}",
         "beats": G * H * X},
        {"tensor": "W_hh", "shape": [G * H, H], "order": f"row-major, {rows}",
         "beats": G * H * H},
        {"tensor": "b", "shape": [G * H], "order": f"b_ih + b_hh, {rows}", "beats": G * H},
    ]


def stream_image(q: QuantParams) -> np.ndarray:
    """The ``s_axis_w`` beats: W_ih row-major, W_hh row-major, then b (signed integers)."""
    return np.concatenate([q.w_ih.reshape(-1), q.w_hh.reshape(-1), q.b.reshape(-1)])
