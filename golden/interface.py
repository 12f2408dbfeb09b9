"""The external interface of a SkipLSTM core, in one place (docs/contract.md sections 3-4).

Register offsets, bit fields, reset values and the ID of the AXI4-Lite register file; the
commands, statuses, flags, framing constants and CRC-8 of the UART host bridge. The gateware
(``rtl``), the host package (``skiplstm``), the testbenches (``sim``) and the generated manifest
all read these definitions; nothing else defines them. Standard library only, so that a host
program imports it without NumPy, Amaranth or PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag

__all__ = ["ID_VALUE", "Reg", "REGISTERS", "Ctrl", "StatusBit", "Field", "FIELDS",
           "ARCH_BAKED", "ARCH_OVERLAP", "Resp", "register_map",
           "SYNC_REQUEST", "SYNC_RESPONSE", "VERSION", "MAX_PAYLOAD", "Flag", "Cmd",
           "BridgeStatus", "STATUS_MEANING", "crc8", "crc8_byte", "CRC8_POLY", "WRITABLE",
           "RESET", "bit"]

# -- AXI4-Lite register file --------------------------------------------------------------

ID_VALUE = 0x534B4C31                      # "SKL1"


class Reg(IntEnum):
    """Byte offsets of the registers (32-bit data, 8-bit addresses)."""
    ID = 0x00
    SHAPE = 0x04
    ARCH = 0x08
    CTRL = 0x10
    THRESHOLD = 0x14
    STATUS = 0x18
    CYCLES_LO = 0x20
    CYCLES_HI = 0x24
    STEPS = 0x28
    COLUMNS = 0x2C
    SKIPPED = 0x30


REGISTERS = {r.name: int(r) for r in Reg}  # name -> offset, the manifest's ``registers``


class Ctrl(IntFlag):
    """CTRL bits. SPARSE is a level (reset 1); the clears are one-cycle pulses on write."""
    SPARSE = 1 << 0
    CLEAR_STATE = 1 << 1
    CLEAR_COUNTERS = 1 << 2


class StatusBit(IntFlag):
    """STATUS bits. PROTOCOL_ERROR is sticky; writing 1 to it clears it."""
    BUSY = 1 << 0
    PROTOCOL_ERROR = 1 << 1


ARCH_BAKED = 1 << 16                       # ARCH bit 16: parameters baked in at generation
ARCH_OVERLAP = 1 << 17                     # ARCH bit 17: built with the ``overlap`` option


def bit(flag):
    """The bit index of a one-bit flag (``Ctrl``, ``StatusBit``, ``Flag``, ``ARCH_BAKED``,
    ``ARCH_OVERLAP``)."""
    value = int(flag)
    if value <= 0 or value & (value - 1):
        raise ValueError(f"{flag!r} is not a single bit")
    return value.bit_length() - 1


@dataclass(frozen=True)
class Field:
    """A bit field ``[lsb + width - 1 : lsb]`` of a register."""
    reg: Reg
    name: str
    lsb: int
    width: int

    def get(self, word):
        return (int(word) >> self.lsb) & ((1 << self.width) - 1)

    def put(self, value):
        if not 0 <= int(value) < 1 << self.width:
            raise ValueError(f"{self.reg.name}.{self.name} = {value} does not fit its "
                             f"{self.width} bits (allowed 0 .. {(1 << self.width) - 1})")
        return int(value) << self.lsb


# Multi-bit fields (single-bit flags are ``Ctrl`` / ``StatusBit`` / ``ARCH_BAKED`` /
# ``ARCH_OVERLAP``).
FIELDS = {
    "SHAPE.INPUT_SIZE": Field(Reg.SHAPE, "INPUT_SIZE", 0, 16),
    "SHAPE.HIDDEN_SIZE": Field(Reg.SHAPE, "HIDDEN_SIZE", 16, 16),
    "ARCH.LANES": Field(Reg.ARCH, "LANES", 0, 16),
    "ARCH.BAKED": Field(Reg.ARCH, "BAKED", 16, 1),
    "ARCH.OVERLAP": Field(Reg.ARCH, "OVERLAP", 17, 1),
}

# (access, reset value or None when set by the build / the hardware, meaning)
_ACCESS = {
    Reg.ID: ("RO", ID_VALUE, "identification, \"SKL1\""),
    Reg.SHAPE: ("RO", None, "input_size [15:0], hidden_size [31:16]"),
    Reg.ARCH: ("RO", None, "lanes [15:0]; bit 16: parameters baked in at generation; bit 17: "
                           "built with the overlap option"),
    Reg.CTRL: ("RW", int(Ctrl.SPARSE), "bit 0 SPARSE; bit 1 CLEAR_STATE and bit 2 "
                                        "CLEAR_COUNTERS: write 1, self-clearing (read 0)"),
    Reg.THRESHOLD: ("RW", 0, "theta, raw state-format magnitude"),
    Reg.STATUS: ("RO/W1C", 0, "bit 0 BUSY; bit 1 PROTOCOL_ERROR, sticky, write 1 to clear"),
    Reg.CYCLES_LO: ("RO", 0, "cycles with a step in flight, bits 31:0; reading it latches "
                             "CYCLES_HI"),
    Reg.CYCLES_HI: ("RO", 0, "bits 63:32 latched by the last CYCLES_LO read"),
    Reg.STEPS: ("RO", 0, "completed steps"),
    Reg.COLUMNS: ("RO", 0, "columns of W visited (nonzero v_t elements)"),
    Reg.SKIPPED: ("RO", 0, "columns skipped (zero v_t elements)"),
}
WRITABLE = frozenset(r for r, (access, _, _) in _ACCESS.items() if "W" in access)
RESET = {r: reset for r, (_, reset, _) in _ACCESS.items() if reset is not None}


class Resp(IntEnum):
    """AXI4-Lite response codes the register file answers."""
    OKAY = 0b00
    SLVERR = 0b10


def register_map():
    """The register map as the manifest records it: name -> offset, access, reset, meaning,
    bit fields."""
    bits = {Reg.CTRL: Ctrl, Reg.STATUS: StatusBit}
    out = {}
    for reg, (access, reset, meaning) in _ACCESS.items():
        fields = {f.name: [f.lsb, f.width] for f in FIELDS.values() if f.reg is reg}
        for flag in bits.get(reg, ()):
            fields[flag.name] = [bit(flag), 1]
        out[reg.name] = {"offset": int(reg), "access": access, "reset": reset,
                         "meaning": meaning, "fields": fields}
    return out


# -- UART host bridge (byte protocol of the board top; see skiplstm.protocol) ---------------

SYNC_REQUEST = 0xA5
SYNC_RESPONSE = 0x5A
VERSION = 1
MAX_PAYLOAD = 2047                         # the board's frame buffer is 2048 bytes


class Flag(IntFlag):
    """SEND_X / SEND_W flags byte; RECV_H answers LAST."""
    LAST = 1 << 0                          # tlast on the frame's final element
    FIRST = 1 << 1                         # tuser (a new sequence) on its first element


class Cmd(IntEnum):
    INFO = 0
    READ_REG = 1
    WRITE_REG = 2
    SEND_X = 3
    SEND_W = 4
    RECV_H = 5


class BridgeStatus(IntEnum):
    OK = 0
    BAD_CRC = 1
    BAD_CMD = 2
    BAD_LEN = 3
    SLVERR = 4
    STALLED = 5
    FRAME_TIMEOUT = 6


STATUS_MEANING = {
    BridgeStatus.OK: "done",
    BridgeStatus.BAD_CRC: "the request arrived corrupted (CRC mismatch) and was not executed",
    BridgeStatus.BAD_CMD: "unknown command code; not executed",
    BridgeStatus.BAD_LEN: "payload length not allowed for this command; not executed",
    BridgeStatus.SLVERR: "the register address is not mapped (AXI4-Lite SLVERR)",
    BridgeStatus.STALLED: "the core stopped accepting stream elements (stall timeout)",
    BridgeStatus.FRAME_TIMEOUT: "the request stopped arriving mid-frame and was dropped",
}

CRC8_POLY = 0x07


def crc8_byte(d):
    """CRC-8 (polynomial 0x07, no reflection) of the single byte ``d`` from a zero register;
    the CRC is linear, so ``crc8(data, crc) = crc8_byte(crc ^ b)`` byte by byte."""
    for _ in range(8):
        d = ((d << 1) ^ CRC8_POLY) & 0xFF if d & 0x80 else (d << 1) & 0xFF
    return d


_CRC8 = [crc8_byte(b) for b in range(256)]


def crc8(data, crc=0):
    """CRC-8/SMBUS: polynomial 0x07, initial value ``crc`` (0), no reflection, no final xor."""
    for b in bytes(data):
        crc = _CRC8[crc ^ b]
    return crc
