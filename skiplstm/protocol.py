"""The UART bridge byte protocol, host side: framing and decoding. The constants, commands,
statuses and CRC-8 are defined in ``golden.interface`` (which the RTL bridge reads too).

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

from golden.interface import (MAX_PAYLOAD, STATUS_MEANING, SYNC_REQUEST, SYNC_RESPONSE, VERSION,
                              Cmd, Flag, crc8)
from golden.interface import BridgeStatus as Status

__all__ = ["SYNC_REQUEST", "SYNC_RESPONSE", "VERSION", "MAX_PAYLOAD", "Cmd", "Status", "Flag",
           "STATUS_MEANING", "crc8", "encode_request", "encode_response", "FrameDecoder",
           "ProtocolError", "name_of"]


class ProtocolError(RuntimeError):
    """A response that does not follow the protocol (bad sync, CRC or length)."""


def name_of(enum, code):
    """``Cmd`` / ``Status`` name of a received code, or the number when it is not one."""
    try:
        return enum(code).name
    except ValueError:
        return f"{enum.__name__.lower()} {code}"


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
