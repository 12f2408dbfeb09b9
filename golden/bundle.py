"""Model bundles: what a trained model ships as, and what ``make rtl`` bakes in.

A bundle is a directory with ``params.npz`` (hardware integers ``w_ih``, ``w_hh``, ``b`` in
the configured formats; the float parameters ``float_w_ih``, ``float_w_hh``, ``float_b``; the
float read-out ``readout_w``, ``readout_b``) and ``model.json`` (configuration, formats,
theta in real units and raw, data set, metrics, training record, and the SHA-256 of
``params.npz`` so that a corrupt or swapped file is detected).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from golden.config import Config, ConfigError, config_from_dict
from golden.params import (FloatParams, ParamError, QuantParams, from_torch, quantize_params,
                           read_npz)

__all__ = ["BundleError", "Bundle", "save_bundle", "load_bundle", "update_metrics"]


class BundleError(ValueError):
    """A model bundle that is missing, corrupt or made for another configuration."""


@dataclass
class Bundle:
    path: Path
    cfg: Config
    q: QuantParams
    float_params: FloatParams
    readout_w: np.ndarray
    readout_b: np.ndarray
    meta: dict

    @property
    def theta_raw(self):
        return int(self.meta["theta_raw"])


def config_difference(bundle_cfg: Config, cfg: Config):
    """What differs between two configurations apart from name, lane and cell-unit counts and
    the overlap option (which do not change the arithmetic), as ``"field: bundle V,
    configuration W"`` lines."""
    def flat(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict):
                yield from flat(v, f"{prefix}{k}.")
            else:
                yield f"{prefix}{k}", v
    skip = ("name", "lanes", "cell_units", "overlap")
    theirs = dict(flat({k: v for k, v in bundle_cfg.to_dict().items() if k not in skip}))
    mine = dict(flat({k: v for k, v in cfg.to_dict().items() if k not in skip}))
    return [f"{k}: bundle {theirs.get(k)}, configuration {mine.get(k)}"
            for k in mine if mine[k] != theirs.get(k)]


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_bundle(out, model, cfg: Config, meta: dict):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fp = from_torch(model.lstm)
    q = quantize_params(fp, cfg)
    np.savez_compressed(
        out / "params.npz", w_ih=q.w_ih.astype(np.int32), w_hh=q.w_hh.astype(np.int32),
        b=q.b.astype(np.int32), float_w_ih=fp.w_ih.astype(np.float32),
        float_w_hh=fp.w_hh.astype(np.float32), float_b=fp.b.astype(np.float32),
        readout_w=model.out.weight.detach().double().numpy().astype(np.float32),
        readout_b=model.out.bias.detach().double().numpy().astype(np.float32))
    theta = float(meta.get("theta", 0.0))
    internal = {k: v.to_dict() for k, v in cfg.internal_formats().items()}
    doc = {"config": cfg.to_dict(), "formats": {**cfg.formats.to_dict(), **internal},
           "theta": theta, "theta_raw": int(round(theta * cfg.formats.state.scale)),
           "quantisation": {"mode": "round half to even, saturate", "saturated": q.saturated},
           "params_sha256": _sha256(out / "params.npz"), **meta}
    doc.setdefault("metrics", {})
    (out / "model.json").write_text(json.dumps(doc, indent=1) + "\n")
    return out


def update_metrics(path, metrics):
    path = Path(path) / "model.json"
    doc = json.loads(path.read_text())
    doc["metrics"] = metrics
    path.write_text(json.dumps(doc, indent=1) + "\n")


def load_bundle(path, cfg: Config | None = None) -> Bundle:
    """Loads and checks a bundle; with ``cfg``, also that it was made for that configuration."""
    path = Path(path)
    meta_path, npz_path = path / "model.json", path / "params.npz"
    for p in (meta_path, npz_path):
        if not p.exists():
            raise BundleError(f"model bundle {str(path)!r} has no {p.name}")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise BundleError(f"{meta_path} is not valid JSON: {exc}") from None
    digest = _sha256(npz_path)
    if meta.get("params_sha256") != digest:
        raise BundleError(f"{npz_path} does not match its model.json (sha256 {digest[:12]}… "
                          f"!= {str(meta.get('params_sha256'))[:12]}…): corrupt or swapped")
    try:
        bcfg = config_from_dict(meta["config"])
    except (KeyError, ConfigError) as exc:
        raise BundleError(f"{meta_path} has no valid 'config': {exc}") from None
    if cfg is not None:
        diff = config_difference(bcfg, cfg)
        if diff:
            raise BundleError(f"model bundle {str(path)!r} was made for another configuration: "
                              f"{'; '.join(diff)}. Use a bundle trained for this configuration, "
                              "or build without weights (WEIGHTS= on the make command line) "
                              "and load parameters over s_axis_w")
        bcfg = cfg
    try:
        d = read_npz(npz_path, "model bundle file")
        q = QuantParams(d["w_ih"].astype(np.int64), d["w_hh"].astype(np.int64),
                        d["b"].astype(np.int64), meta.get("quantisation", {}).get("saturated", {}))
        q.check(bcfg)
        fp = FloatParams(d["float_w_ih"].astype(np.float64), d["float_w_hh"].astype(np.float64),
                         d["float_b"].astype(np.float64))
        return Bundle(path, bcfg, q, fp, d["readout_w"].astype(np.float64),
                      d["readout_b"].astype(np.float64), meta)
    except KeyError as exc:
        raise BundleError(f"{npz_path} lacks array {exc}") from None
    except ParamError as exc:
        raise BundleError(f"{npz_path}: {exc}") from None
