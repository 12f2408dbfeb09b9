"""The UART bridge byte protocol (host side and the constants the RTL bridge uses).

Every exchange is one request frame from the host and one response frame from the board::

    request   0xA5  CMD     LEN_LO LEN_HI  payload[LEN]  CRC
    response  0x5A  STATUS  LEN_LO LEN_HI  payload[LEN]  CRC

``CRC`` is CRC-8 (polynomial 0x07, initial value 0, no reflection, no final xor) over every
byte after the sync byte up to the end of the payload. The board buffers the whole request
and checks its CRC and length before it executes anything: a corrupted request is answered
``BAD_CRC`` (or ``BAD_LEN`` / ``BAD_CMD``) and has no effect. A request that stops arriving
for longer than the board's frame timeout is dropped and answered ``FRAME_TIMEOUT``. Bytes
outside a frame that are not the sync byte are ignored.

Commands (multi-byte values little endian; stream elements are sign-extended two's
complement in the width of their AXI4-Stream ``tdata``, rounded up to whole bytes):

=========  ====  =================================  ======================================
command    code  request payload                    response payload
=========  ====  =================================  ======================================
INFO       0x00  (none)                             version, x_bytes, w_bytes, h_bytes,
                                                    max_payload (2 bytes), divisor (2 bytes)
READ_REG   0x01  addr                               data (4 bytes); status SLVERR if unmapped
WRITE_REG  0x02  addr, data (4 bytes)               (none); status SLVERR if unmapped
SEND_X     0x03  flags, x elements                  accepted element count (2 bytes)
SEND_W     0x04  flags, parameter words             accepted word count (2 bytes)
RECV_H     0x05  max elements (2 bytes)             flags, h elements (at most max; stops
                                                    after the element that ends a vector)
=========  ====  =================================  ======================================

SEND flags: bit 0 ``LAST`` puts ``tlast`` on the frame's final element, bit 1 ``FIRST`` puts
``tuser`` (a new sequence starts) on its first element. RECV_H flags: bit 0, the last
element returned carried ``tlast``. RECV_H returns what the output FIFO holds without
waiting. SEND_X / SEND_W answer ``STALLED`` with the count accepted so far when the core
refuses an element for longer than the stall timeout (e.g. the h FIFO is full because the
host has not read it): the rest of the frame is not sent and the host can resend it.
"""

from __future__ import annotations

__all__ = ["SYNC_REQUEST", "SYNC_RESPONSE", "VERSION", "MAX_PAYLOAD", "Cmd", "Status",
           "FLAG_LAST", "FLAG_FIRST", "crc8", "encode_request", "encode_response",
           "FrameDecoder", "ProtocolError"]

SYNC_REQUEST = 0xA5
SYNC_RESPONSE = 0x5A
VERSION = 1
MAX_PAYLOAD = 2047                 # the board's frame buffer is 2048 bytes
FLAG_LAST, FLAG_FIRST = 1, 2


class Cmd:
    INFO, READ_REG, WRITE_REG, SEND_X, SEND_W, RECV_H = range(6)
    NAMES = {0: "INFO", 1: "READ_REG", 2: "WRITE_REG", 3: "SEND_X", 4: "SEND_W", 5: "RECV_H"}


class Status:
    OK, BAD_CRC, BAD_CMD, BAD_LEN, SLVERR, STALLED, FRAME_TIMEOUT = range(7)
    NAMES = {0: "OK", 1: "BAD_CRC", 2: "BAD_CMD", 3: "BAD_LEN", 4: "SLVERR", 5: "STALLED",
             6: "FRAME_TIMEOUT"}
    MEANING = {
        1: "the request arrived corrupted (CRC mismatch) and was not executed",
        2: "unknown command code; not executed",
        3: "payload length not allowed for this command; not executed",
        4: "the register address is not mapped (AXI4-Lite SLVERR)",
        5: "the core stopped accepting stream elements (stall timeout)",
        6: "the request stopped arriving mid-frame and was dropped",
    }


class ProtocolError(RuntimeError):
    """A response that does not follow the protocol (bad sync, CRC or length)."""


def _crc8_table():
    table = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = ((c << 1) ^ 0x07) & 0xFF if c & 0x80 else (c << 1) & 0xFF
        table.append(c)
    return table


_CRC8 = _crc8_table()


def crc8(data, crc=0):
    for b in bytes(data):
        crc = _CRC8[crc ^ b]
    return crc


def _frame(sync, code, payload):
    payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes; allowed: at most {MAX_PAYLOAD}")
    body = bytes([code, len(payload) & 0xFF, len(payload) >> 8]) + payload
    return bytes([sync]) + body + bytes([crc8(body)])


def encode_request(cmd, payload=b""):
    return _frame(SYNC_REQUEST, cmd, payload)


def encode_response(status, payload=b""):
    return _frame(SYNC_RESPONSE, status, payload)


class FrameDecoder:
    """Incremental decoder of frames with a given sync byte: ``feed(bytes)`` returns the list
    of complete ``(code, payload)`` frames; a CRC mismatch raises ``ProtocolError``."""

    def __init__(self, sync=SYNC_RESPONSE):
        self.sync = sync
        self.buf = bytearray()

    def needed(self):
        """Bytes still missing for the frame in progress (at least 1)."""
        if len(self.buf) < 4:
            return 4 - len(self.buf) + 1
        n = self.buf[2] | (self.buf[3] << 8)
        return max(5 + n - len(self.buf), 1)

    def feed(self, data):
        out = []
        for b in bytes(data):
            if not self.buf and b != self.sync:
                continue
            self.buf.append(b)
            if len(self.buf) >= 4:
                n = self.buf[2] | (self.buf[3] << 8)
                if n > MAX_PAYLOAD:
                    bad = bytes(self.buf)
                    self.buf.clear()
                    raise ProtocolError(f"frame header {bad.hex()} announces {n} payload "
                                        f"bytes; allowed: at most {MAX_PAYLOAD}")
                if len(self.buf) == 5 + n:
                    body, crc = bytes(self.buf[1:-1]), self.buf[-1]
                    self.buf.clear()
                    if crc8(body) != crc:
                        raise ProtocolError(f"response CRC mismatch: got 0x{crc:02x}, "
                                            f"computed 0x{crc8(body):02x} over {body[:16].hex()}"
                                            f"{'...' if len(body) > 16 else ''}")
                    out.append((body[0], body[3:]))
        return out
