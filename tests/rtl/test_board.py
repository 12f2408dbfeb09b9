"""Board top in the Amaranth simulator: host driver -> simulated UART -> bridge -> core."""

import numpy as np
import pytest

from golden import cycles
from golden.config import Config
from golden.model import GoldenLSTM
from rtl.board import SkipLSTMBoard
from rtl.uart import divisor_for
from sim.scenario import random_params, random_sequences
from sim.uart_sim import SimulatedUART
from skiplstm import Device, DeviceError, DeviceTimeout
from golden.interface import crc8
from skiplstm.protocol import Cmd, FrameDecoder, Status, encode_request

CFG = Config(input_size=3, hidden_size=8, lanes=2)


def _board(rng, baked=True):
    q = random_params(rng, CFG)
    board = SkipLSTMBoard(CFG, q if baked else None, divisor=4, frame_timeout=300,
                          stall_timeout=300)
    uart = SimulatedUART(board)
    return q, uart, Device(uart, timeout=0.005)


def _raw(uart, frame):
    """Sends raw bytes; returns the decoded (status, payload) of the response."""
    uart.write(frame)
    dec = FrameDecoder()
    while True:
        chunk = uart.read(dec.needed(), 0.0005)
        assert chunk, "no response"
        got = dec.feed(chunk)
        if got:
            return got[0]


def test_divisor_for_names_the_problem():
    assert divisor_for(25e6, 1_000_000) == 25
    with pytest.raises(ValueError, match="at least 4 clock cycles per bit"):
        divisor_for(25e6, 10_000_000)
    with pytest.raises(ValueError, match="off by"):
        divisor_for(10e6, 1_900_000)


def test_identify_registers_and_sequences_bit_exact(rng):
    q, uart, dev = _board(rng)
    ident = dev.identify()
    assert (ident["input_size"], ident["hidden_size"], ident["lanes"]) == (3, 8, 2)
    assert ident["baked"] and ident["divisor"] == 4
    dev.write_reg("THRESHOLD", 40)
    assert dev.read_reg("THRESHOLD") == 40
    golden = GoldenLSTM(CFG, q)
    for sparse in (1, 0):
        dev.write_reg("CTRL", sparse | 4)                 # mode, clear counters
        xs = random_sequences(rng, CFG, [4], 0.6)[0]
        hs = dev.run(xs, input_bits=CFG.formats.input.bits)
        want, _ = golden.run(xs, theta=40)
        assert np.array_equal(hs, want)
        c = dev.counters()
        model = cycles.cycle_model(CFG, xs, want, sparse=bool(sparse))
        assert {k: c[k] for k in model} == model
    with pytest.raises(DeviceError, match="SLVERR"):
        dev.read_reg(0x3C)


def test_parameters_loaded_over_the_uart(rng):
    q, uart, dev = _board(rng, baked=False)
    assert not dev.identify()["baked"]
    dev.load_params(q, CFG)
    xs = random_sequences(rng, CFG, [3], 0.7)[0]
    assert np.array_equal(dev.run(xs), GoldenLSTM(CFG, q).run(xs)[0])


def test_corrupted_frames_are_rejected_and_never_executed(rng):
    q, uart, dev = _board(rng)
    dev.identify()
    xs = random_sequences(rng, CFG, [2], 1.0)[0]
    payload = bytes([3]) + b"".join(int(v & 0xFFFF).to_bytes(2, "little") for v in xs[0])
    good = encode_request(Cmd.SEND_X, payload)
    flipped = bytearray(good)
    flipped[6] ^= 0x10                                    # a payload bit
    assert _raw(uart, bytes(flipped)) == (Status.BAD_CRC, b"")
    bad_crc = bytearray(good)
    bad_crc[-1] ^= 1
    assert _raw(uart, bytes(bad_crc)) == (Status.BAD_CRC, b"")
    assert _raw(uart, encode_request(9)) == (Status.BAD_CMD, b"")
    assert _raw(uart, encode_request(Cmd.READ_REG, b"\x00\x00")) == (Status.BAD_LEN, b"")
    assert _raw(uart, encode_request(Cmd.SEND_X, payload[:-1])) == (Status.BAD_LEN, b"")
    assert _raw(uart, good[:5]) == (Status.FRAME_TIMEOUT, b"")   # stops mid-frame
    # nothing above reached the core: no x accepted, no step, no error flag
    uart.run_cycles(2000)
    assert dev.counters() == {"CYCLES": 0, "STEPS": 0, "COLUMNS": 0, "SKIPPED": 0,
                              "STATUS": 0}
    assert dev.request(Cmd.RECV_H, b"\x08\x00")[1] == b"\x00"
    # a driver request corrupted once on the line is rejected, counted and resent
    real_write = uart.write
    hits = []

    def corrupt_once(data):
        if not hits:
            hits.append(1)
            data = bytes([data[0], data[1] ^ 0x40]) + bytes(data[2:])
        real_write(data)
    uart.write = corrupt_once
    hs = dev.run(xs)
    assert dev.rejected == 1
    assert np.array_equal(hs, GoldenLSTM(CFG, q).run(xs)[0])


def test_driver_errors(rng):
    q, uart, dev = _board(rng)
    with pytest.raises(ValueError, match=r"xs\[0\]\[.*does not fit the 16-bit"):
        dev.run(np.array([[0, 1 << 15, 0]]))
    with pytest.raises(ValueError, match="register 'NOPE' unknown"):
        dev.read_reg("NOPE")

    class Silent:
        def write(self, data):
            pass

        def read(self, n, timeout):
            return b""
    with pytest.raises(DeviceTimeout, match="INFO: no complete response"):
        Device(Silent(), timeout=0.01).info()
    assert crc8(b"123456789") == 0xF4                     # CRC-8/SMBUS check value


def _tiny_bundle(tmp_path, q, vocab):
    """A character-model bundle for CFG (the format ``golden.bundle`` reads)."""
    import hashlib
    import json
    X, H = CFG.input_size, CFG.hidden_size
    np.savez_compressed(tmp_path / "params.npz", w_ih=q.w_ih, w_hh=q.w_hh, b=q.b,
                        float_w_ih=np.zeros((4 * H, X)), float_w_hh=np.zeros((4 * H, H)),
                        float_b=np.zeros(4 * H), readout_w=np.eye(X, H), readout_b=np.zeros(X))
    digest = hashlib.sha256((tmp_path / "params.npz").read_bytes()).hexdigest()
    (tmp_path / "model.json").write_text(json.dumps({
        "config": CFG.to_dict(), "theta": 0.01, "theta_raw": 41, "vocab": vocab,
        "params_sha256": digest}))
    return tmp_path


def test_cli_run_checks_against_the_golden_model(rng, tmp_path, monkeypatch, capsys):
    import skiplstm.__main__ as cli
    q, uart, _ = _board(rng)
    bundle = _tiny_bundle(tmp_path, q, ["a", "b", "c"])
    monkeypatch.setattr(cli, "SerialTransport", lambda port, baud: uart)
    monkeypatch.setattr(cli, "Device", lambda t, timeout: Device(t, timeout=0.005))
    assert cli.main(["--port", "sim", "run", "--bundle", str(bundle), "--text", "abcab",
                     "--check"]) == 0
    out = capsys.readouterr().out
    assert "h bit-exact against the golden model" in out and "predicted :" in out
    assert cli.main(["--port", "sim", "run", "--bundle", str(bundle), "--text", "abx"]) == 1
    assert "outside the model's vocabulary: ['x']" in capsys.readouterr().err
