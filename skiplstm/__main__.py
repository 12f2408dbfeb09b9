"""Command line for a SkipLSTM board on a serial port.

    skiplstm --port /dev/ttyUSB0 info
    skiplstm --port /dev/ttyUSB0 regs
    skiplstm --port /dev/ttyUSB0 load models/ptb
    skiplstm --port /dev/ttyUSB0 run --bundle models/ptb --text "the company said"
    skiplstm --port /dev/ttyUSB0 run --bundle models/ptb --ptb-test 200 --check

``run`` feeds characters one-hot (the PTB models' input), prints the model's next-character
prediction after each, the counters and the measured sparse speed-up; ``--check`` compares
every h with the golden fixed-point model (bit for bit).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from .driver import REGISTERS, Device, DriverError, SerialTransport
from .protocol import ProtocolError


def _encode(text, vocab, cfg):
    missing = sorted({ch for ch in text if ch not in vocab})
    if missing:
        raise DriverError(f"--text has characters outside the model's vocabulary: {missing!r}")
    ids = [vocab.index(ch) for ch in text]
    xs = np.zeros((len(ids), cfg.input_size), dtype=np.int64)
    xs[np.arange(len(ids)), ids] = 1 << cfg.formats["input"].frac
    return ids, xs


def cmd_run(dev, args):
    import json

    from golden.bundle import load_bundle
    from golden.cycles import cycle_model
    from golden.model import GoldenLSTM

    b = load_bundle(args.bundle)
    cfg = b.cfg
    dev.check_config(cfg)
    vocab = json.loads((b.path / "model.json").read_text()).get("vocab")
    if vocab is None or len(vocab) != cfg.input_size:
        raise DriverError(f"bundle {args.bundle} has no character vocabulary of "
                          f"{cfg.input_size} symbols; `run` feeds characters")
    if args.ptb_test:
        from train.data import ptb_chars
        text = "".join(vocab[i] for i in ptb_chars()[1]["test"][:args.ptb_test])
    else:
        text = args.text
    ids, xs = _encode(text, vocab, cfg)
    dev.write_reg("THRESHOLD", b.theta_raw)
    dev.write_reg("CTRL", (0 if args.dense else 1) | 2 | 4)      # mode, clear state, counters
    hs = dev.run(xs, input_bits=cfg.formats["input"].bits)
    c = dev.counters()
    h_float = hs / cfg.formats["state"].scale
    pred = np.argmax(h_float @ b.readout_w.T + b.readout_b, axis=1)
    shown = "".join(vocab[p] for p in pred)
    print(f"input     : {text!r}")
    print(f"predicted : {shown!r} (next character after each input)")
    dense = cycle_model(cfg, xs, hs, sparse=False)["CYCLES"]
    print(f"counters  : {c}")
    print(f"h zeros   : {100 * (1 - np.count_nonzero(hs) / hs.size):.1f}%; cycles "
          f"{c['CYCLES']} vs {dense} dense (cycle model) = {dense / max(c['CYCLES'], 1):.2f}x")
    if args.check:
        want, _ = GoldenLSTM(cfg, b.q).run(xs, theta=b.theta_raw, sparse=not args.dense)
        bad = np.argwhere(hs != want)
        if len(bad):
            raise DriverError(f"{len(bad)} h values differ from the golden model; first at "
                              f"step {bad[0][0]}, unit {bad[0][1]}")
        print("check     : h bit-exact against the golden model")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="skiplstm", description=__doc__.split("\n")[0])
    ap.add_argument("--port", default=os.environ.get("SKIPLSTM_PORT"),
                    help="serial port (default: $SKIPLSTM_PORT)")
    ap.add_argument("--baud", type=int, default=1_000_000)
    ap.add_argument("--timeout", type=float, default=2.0, help="seconds per response")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info", help="bridge and core identification")
    sub.add_parser("regs", help="all registers")
    p = sub.add_parser("load", help="load a model bundle's parameters and threshold")
    p.add_argument("bundle")
    p = sub.add_parser("run", help="run characters through a character model")
    p.add_argument("--bundle", default="models/ptb")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--text")
    g.add_argument("--ptb-test", type=int, metavar="N", help="the first N PTB test characters")
    p.add_argument("--dense", action="store_true", help="dense mode (CTRL.SPARSE = 0)")
    p.add_argument("--check", action="store_true", help="compare h with the golden model")
    args = ap.parse_args(argv)
    if not args.port:
        ap.error("--port (or $SKIPLSTM_PORT) is required: the board's serial port, "
                 "e.g. /dev/ttyUSB0")
    try:
        dev = Device(SerialTransport(args.port, args.baud), timeout=args.timeout)
        ident = dev.identify()
        if args.cmd == "info":
            for k, v in ident.items():
                print(f"{k:12s} {v}")
        elif args.cmd == "regs":
            for name in REGISTERS:
                print(f"{name:10s} 0x{dev.read_reg(name):08x}")
        elif args.cmd == "load":
            b = dev.load_bundle(args.bundle)
            print(f"loaded {args.bundle} (theta {b.meta['theta']}, raw {b.theta_raw})")
        elif args.cmd == "run":
            cmd_run(dev, args)
    except (DriverError, ProtocolError, ValueError, OSError) as exc:
        print(f"skiplstm: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
