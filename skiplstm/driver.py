"""Host driver for the UART board top: registers, parameter load, sequences, counters.

    dev = Device(SerialTransport("/dev/ttyUSB0"))
    dev.identify()                      # ID, shape, lanes; checks the bridge protocol version
    dev.load_bundle("models/ptb")       # optional: the bitstream may have parameters baked in
    hs = dev.run(xs)                    # xs (T, X) raw input-format integers -> (T, H) raw h
    dev.counters()                      # CYCLES, STEPS, COLUMNS, SKIPPED

Any transport with ``write(bytes)`` and ``read(n, timeout) -> bytes`` (fewer bytes than
asked means the timeout ran out) works: a serial port here, a simulated UART in the tests.
"""

from __future__ import annotations

import time

import numpy as np

from golden.interface import (ARCH_BAKED, ARCH_OVERLAP, FIELDS, ID_VALUE, REGISTERS, Flag,
                              StatusBit)

from .protocol import (STATUS_MEANING, VERSION, Cmd, FrameDecoder, ProtocolError, Status,
                       encode_request, name_of)

__all__ = ["Device", "SerialTransport", "DriverError", "DeviceError", "DeviceTimeout"]


class DriverError(RuntimeError):
    """Base class of the driver's errors."""


class DeviceTimeout(DriverError):
    """No (complete) response within the timeout."""


class DeviceError(DriverError):
    """The board answered with an error status."""

    def __init__(self, cmd, status, detail=""):
        self.cmd, self.status = cmd, status
        super().__init__(f"{name_of(Cmd, cmd)}: {name_of(Status, status)}: "
                         f"{STATUS_MEANING.get(status, 'unknown status')}{detail}")


class SerialTransport:
    """A serial port through pyserial (``pip install pyserial``)."""

    def __init__(self, port, baud=1_000_000):
        try:
            import serial
        except ImportError:
            raise DriverError("talking to a serial port needs pyserial: "
                              "pip install pyserial (or pip install -e .[board])") from None
        try:
            self.port = serial.Serial(port, baud, timeout=0)
        except (serial.SerialException, ValueError) as exc:
            raise DriverError(f"cannot open serial port {port!r} at {baud} baud: {exc}") \
                from None

    def write(self, data):
        self.port.write(data)
        self.port.flush()

    def read(self, n, timeout):
        self.port.timeout = timeout
        return self.port.read(n)

    def close(self):
        self.port.close()


def _to_bytes(values, nbytes, bits, field):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    bad = np.flatnonzero((v < lo) | (v > hi))
    if len(bad):
        raise ValueError(f"{field}[{bad[0]}] = {v[bad[0]]} does not fit the {bits}-bit signed "
                         f"format (allowed {lo} .. {hi})")
    return b"".join(int(x & ((1 << (8 * nbytes)) - 1)).to_bytes(nbytes, "little") for x in v)


class Device:
    """One board behind ``transport``.

    ``timeout`` bounds each response (seconds); requests the board rejects as corrupted
    (``BAD_CRC``, ``FRAME_TIMEOUT``; never executed) are resent up to ``retries`` times and
    counted in ``self.rejected``.
    """

    def __init__(self, transport, timeout=2.0, retries=2):
        self.t = transport
        self.timeout, self.retries = timeout, retries
        self.rejected = 0
        self._info = None
        self.shape = None
        # a simulated transport brings its own clock (simulated seconds)
        self.clock = getattr(transport, "clock", time.monotonic)

    # -- frames -------------------------------------------------------------------------

    def _response(self, cmd):
        dec = FrameDecoder()
        deadline = self.clock() + self.timeout
        got = 0
        while True:
            left = deadline - self.clock()
            chunk = self.t.read(dec.needed(), max(left, 0.0)) if left > 0 else b""
            if not chunk:
                raise DeviceTimeout(f"{name_of(Cmd, cmd)}: no complete response within "
                                    f"{self.timeout} s ({got} bytes received)")
            got += len(chunk)
            frames = dec.feed(chunk)
            if frames:
                return frames[0]

    def request(self, cmd, payload=b"", accept=(Status.OK,)):
        """Sends one request; returns ``(status, payload)`` of the response."""
        frame = encode_request(cmd, payload)
        for attempt in range(self.retries + 1):
            self.t.write(frame)
            status, data = self._response(cmd)
            if status in (Status.BAD_CRC, Status.FRAME_TIMEOUT):
                self.rejected += 1
                if attempt < self.retries:
                    continue
            break
        if status not in accept:
            raise DeviceError(cmd, status)
        return status, data

    # -- registers ----------------------------------------------------------------------

    def info(self):
        if self._info is None:
            _, d = self.request(Cmd.INFO)
            if len(d) != 8:
                raise ProtocolError(f"INFO answered {len(d)} bytes; expected 8")
            self._info = {"version": d[0], "x_bytes": d[1], "w_bytes": d[2], "h_bytes": d[3],
                          "max_payload": d[4] | (d[5] << 8), "divisor": d[6] | (d[7] << 8)}
            if self._info["version"] != VERSION:
                raise DriverError(f"board speaks bridge protocol version "
                                  f"{self._info['version']}; this driver speaks {VERSION}")
        return self._info

    @staticmethod
    def _addr(reg):
        if isinstance(reg, str):
            if reg not in REGISTERS:
                raise ValueError(f"register {reg!r} unknown; allowed: {sorted(REGISTERS)}")
            return REGISTERS[reg]
        if not 0 <= int(reg) <= 0xFF:
            raise ValueError(f"register address {reg} out of range (allowed 0 .. 0xFF)")
        return int(reg)

    def read_reg(self, reg):
        _, d = self.request(Cmd.READ_REG, bytes([self._addr(reg)]))
        return int.from_bytes(d, "little")

    def write_reg(self, reg, value):
        if not 0 <= int(value) < 1 << 32:
            raise ValueError(f"value {value} for register {reg} is not a 32-bit unsigned word")
        self.request(Cmd.WRITE_REG, bytes([self._addr(reg)]) + int(value).to_bytes(4, "little"))

    def identify(self):
        """ID, shape and build options; checks the ID."""
        info = self.info()
        ident = self.read_reg("ID")
        if ident != ID_VALUE:
            raise DriverError(f"register ID reads 0x{ident:08x}; expected 0x{ID_VALUE:08x} "
                              "(not a SkipLSTM core?)")
        shape, arch = self.read_reg("SHAPE"), self.read_reg("ARCH")
        self.shape = {"input_size": FIELDS["SHAPE.INPUT_SIZE"].get(shape),
                      "hidden_size": FIELDS["SHAPE.HIDDEN_SIZE"].get(shape),
                      "lanes": FIELDS["ARCH.LANES"].get(arch), "baked": bool(arch & ARCH_BAKED),
                      "overlap": bool(arch & ARCH_OVERLAP)}
        return {**self.shape, **info}

    def check_config(self, cfg):
        s = self.shape or self.identify()
        for k in ("input_size", "hidden_size"):
            if s[k] != getattr(cfg, k):
                raise DriverError(f"board has {k} = {s[k]}; the model needs {getattr(cfg, k)}")

    def counters(self):
        lo = self.read_reg("CYCLES_LO")
        hi = self.read_reg("CYCLES_HI")
        return {"CYCLES": lo | (hi << 32), "STEPS": self.read_reg("STEPS"),
                "COLUMNS": self.read_reg("COLUMNS"), "SKIPPED": self.read_reg("SKIPPED"),
                "STATUS": self.read_reg("STATUS")}

    # -- streams ------------------------------------------------------------------------

    def _send(self, cmd, data, nbytes, first, last):
        """Sends elements (already bytes) in frames of whole elements."""
        per = (self.info()["max_payload"] - 1) // nbytes
        n = len(data) // nbytes
        for s in range(0, n, per):
            chunk = data[s * nbytes:(s + per) * nbytes]
            flags = (Flag.FIRST if first and s == 0 else 0) | \
                    (Flag.LAST if last and s + per >= n else 0)
            status, d = self.request(cmd, bytes([int(flags)]) + chunk,
                                     accept=(Status.OK, Status.STALLED))
            done = d[0] | (d[1] << 8)
            if status == Status.STALLED or done != len(chunk) // nbytes:
                raise DeviceError(cmd, Status.STALLED,
                                  f" ({done} of {len(chunk) // nbytes} elements of this frame "
                                  f"accepted; elements {s}..{s + done - 1} of {n} are in)")

    def load_params(self, q, cfg):
        """Streams quantised parameters (``golden.params.QuantParams``) in load order."""
        from golden.params import stream_image
        self.check_config(cfg)
        f = cfg.formats
        img = stream_image(q)
        wb = self.info()["w_bytes"]
        self._send(Cmd.SEND_W, _to_bytes(img, wb, max(f.weight.bits, f.bias.bits),
                                         "parameter word"), wb, False, True)
        status = self.read_reg("STATUS")
        if status & StatusBit.PROTOCOL_ERROR:
            raise DriverError("the core flagged the parameter load (STATUS.PROTOCOL_ERROR)")

    def load_bundle(self, path):
        """Loads a model bundle's parameters and sets THRESHOLD to its theta; returns it."""
        from golden.bundle import load_bundle
        b = load_bundle(path)
        self.load_params(b.q, b.cfg)
        self.write_reg("THRESHOLD", b.theta_raw)
        return b

    def recv_vector(self, hidden_size):
        """Polls RECV_H until one whole h vector (ending in tlast) has arrived."""
        hb = self.info()["h_bytes"]
        out = []
        deadline = self.clock() + self.timeout
        while True:
            _, d = self.request(Cmd.RECV_H, (hidden_size - len(out)).to_bytes(2, "little"))
            body = d[1:]
            for i in range(0, len(body), hb):
                out.append(int.from_bytes(body[i:i + hb], "little", signed=True))
            if d[0] & Flag.LAST:
                break
            if len(out) >= hidden_size:
                raise ProtocolError(f"h vector longer than hidden_size = {hidden_size} "
                                    "(no tlast where expected)")
            if self.clock() > deadline:
                raise DeviceTimeout(f"h vector incomplete after {self.timeout} s "
                                    f"({len(out)} of {hidden_size} elements)")
        if len(out) != hidden_size:
            raise ProtocolError(f"h vector of {len(out)} elements ends in tlast; "
                                f"expected {hidden_size}")
        return out

    def run(self, xs, fresh=True, input_bits=None):
        """Runs one sequence, step by step; ``xs`` (T, X) raw input-format integers (checked
        against ``input_bits`` when given). Returns the (T, H) raw h values."""
        s = self.shape or self.identify()
        X, H = s["input_size"], s["hidden_size"]
        xs = np.asarray(xs, dtype=np.int64)
        if xs.ndim != 2 or xs.shape[1] != X:
            raise ValueError(f"xs has shape {xs.shape}; expected (T, {X})")
        xbits = 8 * self.info()["x_bytes"]
        hs = []
        for t, x in enumerate(xs):
            self._send(Cmd.SEND_X, _to_bytes(x, xbits // 8, input_bits or xbits, f"xs[{t}]"),
                       xbits // 8,
                       fresh and t == 0, True)
            hs.append(self.recv_vector(H))
        return np.array(hs, dtype=np.int64).reshape(len(xs), H)
