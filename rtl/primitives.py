"""Registered multiplier, weight block RAM and two-port table: portable Verilog, or ECP5
primitives.

``target="generic"`` (default: Icarus, Verilator, any vendor's inference) describes both in
plain Amaranth; ``target="ecp5"`` instantiates ``MULT18X18D`` with its input and output
registers and ``DP16KD`` with its output register (``REGMODE OUTREG``), which Yosys does not
pack from fabric registers. Both targets have the same latency and the same behaviour at
every cycle; ``sim/ecp5_models.py`` writes behavioural models of the two cells so that a test
simulates the ECP5 variant against the generic one.
"""

from amaranth.hdl import (Cat, ClockSignal, Const, Instance, Module, ResetSignal, Signal, signed,
                          unsigned)
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

__all__ = ["TARGETS", "Multiplier", "WeightBank", "TableRom", "dp16kd_geometry",
           "dp16kd_initvals"]

TARGETS = ("generic", "ecp5")


def _check_target(obj, target):
    if target not in TARGETS:
        obj._MustUse__silence = True              # refused, so never elaborated
        raise ValueError(f"target {target!r} is not supported; allowed: {list(TARGETS)}")
    return target


class Multiplier(wiring.Component):
    """``product = op_a * op_b`` (signed), two cycles after the operands: both inputs
    registered, then the product registered. Every register resets to 0 with the domain.

    On ``ecp5`` with both operands at most 18 bits: one ``MULT18X18D`` with
    ``REG_INPUTA_CLK = REG_INPUTB_CLK = REG_OUTPUT_CLK = CLK0``; ``site``, a BEL name
    (``rtl.floorplan``), fixes where nextpnr places it.
    """

    latency = 2

    def __init__(self, a_bits, b_bits, target="generic", site=None):
        self.a_bits, self.b_bits = a_bits, b_bits
        self.site = site
        self.target = _check_target(self, target)
        super().__init__({"op_a": In(signed(a_bits)), "op_b": In(signed(b_bits)),
                          "product": Out(signed(a_bits + b_bits))})

    @property
    def uses_dsp(self):
        return self.target == "ecp5" and self.a_bits <= 18 and self.b_bits <= 18

    def elaborate(self, platform):
        m = Module()
        if not self.uses_dsp:
            a_r, b_r = Signal.like(self.op_a, name="a_r"), Signal.like(self.op_b, name="b_r")
            p_r = Signal.like(self.product, name="p_r")
            m.d.sync += [a_r.eq(self.op_a), b_r.eq(self.op_b), p_r.eq(a_r * b_r)]
            m.d.comb += self.product.eq(p_r)
            return m
        a18 = Signal(signed(18), name="a18")
        b18 = Signal(signed(18), name="b18")
        p36 = Signal(36, name="p36")
        m.d.comb += [a18.eq(self.op_a), b18.eq(self.op_b),
                     self.product.eq(p36[:len(self.product)])]
        ports = {f"i_A{n}": a18[n] for n in range(18)}
        ports.update({f"i_B{n}": b18[n] for n in range(18)})
        ports.update({f"i_C{n}": Const(0, 1) for n in range(18)})
        ports.update({f"o_P{n}": p36[n] for n in range(36)})
        m.submodules.dsp = Instance(
            "MULT18X18D",
            p_REG_INPUTA_CLK="CLK0", p_REG_INPUTA_CE="CE0", p_REG_INPUTA_RST="RST0",
            p_REG_INPUTB_CLK="CLK0", p_REG_INPUTB_CE="CE0", p_REG_INPUTB_RST="RST0",
            p_REG_OUTPUT_CLK="CLK0", p_REG_OUTPUT_CE="CE0", p_REG_OUTPUT_RST="RST0",
            p_REG_INPUTC_CLK="NONE", p_REG_PIPELINE_CLK="NONE",
            p_GSR="DISABLED", p_RESETMODE="SYNC", p_MULT_BYPASS="DISABLED",
            p_SOURCEB_MODE="B_SHIFT", p_CAS_MATCH_REG="FALSE",
            i_SIGNEDA=Const(1, 1), i_SIGNEDB=Const(1, 1),
            i_SOURCEA=Const(0, 1), i_SOURCEB=Const(0, 1),
            i_CLK0=ClockSignal(), i_CE0=Const(1, 1), i_RST0=ResetSignal(),
            **({"a_BEL": self.site} if self.site else {}), **ports)
        return m


def dp16kd_geometry(bits):
    """``(data width, depth)`` of one DP16KD holding words of ``bits`` bits."""
    for width, depth in ((9, 2048), (18, 1024)):
        if bits <= width:
            return width, depth
    raise ValueError(f"a {bits}-bit word does not fit a DP16KD port (at most 18 bits)")


def _dp16kd_low_address(width):
    """DP16KD address bits below the word address: 0 for x9; for x18, ADx1..0 are byte
    enables (both set)."""
    return Const(0, 3) if width == 9 else Const(0b0011, 4)


def _dp16kd(width, regmode_b, words, bits, **ports):
    """A ``DP16KD`` with both ports ``width`` bits wide, port A's output register on, port
    B's per ``regmode_b``, and initial contents ``words`` of ``bits`` bits."""
    return Instance(
        "DP16KD",
        p_DATA_WIDTH_A=width, p_DATA_WIDTH_B=width,
        p_REGMODE_A="OUTREG", p_REGMODE_B=regmode_b,
        p_RESETMODE="SYNC", p_ASYNC_RESET_RELEASE="SYNC",
        p_CSDECODE_A="0b000", p_CSDECODE_B="0b000",
        p_WRITEMODE_A="NORMAL", p_WRITEMODE_B="NORMAL", p_GSR="DISABLED",
        **{f"p_{name}": v for name, v in dp16kd_initvals(words, bits).items()},
        **ports)


def dp16kd_initvals(words, bits):
    """The 64 ``INITVAL_xx`` parameters of a DP16KD whose port width holds ``bits``-bit
    words (two's complement, the port's unused high bits 0, as Yosys fills them when it infers
    the block), from its contents ``words`` (word ``a`` at address ``a``).

    The block is 1024 x 18 bits; a 9-bit word ``a`` is bits ``9 a .. 9 a + 8`` of that array
    (the half ``a mod 2`` of 18-bit word ``a div 2``). Each INITVAL holds 16 18-bit words, one
    every 20 bits."""
    width, depth = dp16kd_geometry(bits)
    if len(words) > depth:
        raise ValueError(f"{len(words)} words do not fit one DP16KD of depth {depth}")
    flat = 0
    for a, w in enumerate(words):
        flat |= (int(w) & ((1 << bits) - 1)) << (a * width)      # unused high bits 0
    out = {}
    for idx in range(64):
        val = 0
        for i in range(16):
            word18 = (flat >> ((idx * 16 + i) * 18)) & ((1 << 18) - 1)
            val |= word18 << (i * 20)
        out[f"INITVAL_{idx:02X}"] = Const(val, 320)
    return out


class WeightBank(wiring.Component):
    """One block RAM of signed words: a write port, and a read port whose data appears two
    cycles after its address (the RAM's own read register, then an output register).

    On ``ecp5``: one ``DP16KD``, port A reading with ``REGMODE_A = OUTREG``, port B writing;
    ``site``, a BEL name (``rtl.floorplan``), fixes where nextpnr places it.
    """

    latency = 2

    def __init__(self, bits, depth, init=(), target="generic", site=None):
        self.bits, self.depth = bits, depth
        self.site = site
        self.init = [int(v) for v in init]
        self.target = _check_target(self, target)
        if self.target == "ecp5":
            width, max_depth = dp16kd_geometry(bits)
            if depth > max_depth:
                self._MustUse__silence = True
                raise ValueError(f"a bank of {depth} {bits}-bit words exceeds one DP16KD "
                                 f"({max_depth} words of {width} bits)")
        aw = ceil_log2(max(depth, 2))
        super().__init__({
            "w_en": In(1), "w_addr": In(aw), "w_data": In(signed(bits)),
            "r_addr": In(aw), "r_data": Out(signed(bits)),
        })

    def elaborate(self, platform):
        m = Module()
        if self.target == "generic":
            mem = Memory(shape=signed(self.bits), depth=self.depth, init=self.init)
            m.submodules.mem = mem
            wr, rd = mem.write_port(), mem.read_port()
            # not reset, as the block RAM's output register is not (its value after a reset
            # is never used)
            out = Signal(signed(self.bits), name="out_r", reset_less=True)
            m.d.comb += [wr.en.eq(self.w_en), wr.addr.eq(self.w_addr),
                         wr.data.eq(self.w_data), rd.addr.eq(self.r_addr),
                         self.r_data.eq(out)]
            m.d.sync += out.eq(rd.data)
            return m
        width, depth = dp16kd_geometry(self.bits)
        low = _dp16kd_low_address(width)
        ra, wa = Signal(14, name="ra"), Signal(14, name="wa")
        di, do = Signal(18, name="di"), Signal(18, name="do")
        m.d.comb += [ra.eq(Cat(low, self.r_addr)), wa.eq(Cat(low, self.w_addr)),
                     di.eq(self.w_data.as_unsigned()), self.r_data.eq(do[:self.bits])]
        ports = {}
        for n in range(14):
            ports[f"i_ADA{n}"] = ra[n]
            ports[f"i_ADB{n}"] = wa[n]
        for n in range(18):
            ports[f"i_DIA{n}"] = Const(0, 1)
            ports[f"i_DIB{n}"] = di[n]
            ports[f"o_DOA{n}"] = do[n]
        for n in range(3):
            ports[f"i_CSA{n}"] = Const(0, 1)
            ports[f"i_CSB{n}"] = Const(0, 1)
        m.submodules.bram = _dp16kd(
            width, "NOREG", self.init, self.bits,
            i_CLKA=ClockSignal(), i_CEA=Const(1, 1), i_OCEA=Const(1, 1),
            i_WEA=Const(0, 1), i_RSTA=Const(0, 1),
            i_CLKB=ClockSignal(), i_CEB=Const(1, 1), i_OCEB=Const(1, 1),
            i_WEB=self.w_en, i_RSTB=Const(0, 1),
            **({"a_BEL": self.site} if self.site else {}), **ports)
        return m


class TableRom(wiring.Component):
    """A read-only table of unsigned words with two read ports (0 and 1); each port's data
    appears two cycles after its address (the RAM's read register, then an output
    register). Two users of the same table share one block.

    On ``ecp5`` (depth at most 2048): one ``DP16KD`` per 18 bits of the word (per 9 bits
    above 1024 words), both ports reading with ``REGMODE_A = REGMODE_B = OUTREG``.
    """

    latency = 2

    def __init__(self, bits, depth, init, target="generic"):
        self.bits, self.depth = bits, depth
        self.init = [int(v) for v in init]
        self.target = _check_target(self, target)
        aw = ceil_log2(max(depth, 2))
        super().__init__({"r0_addr": In(aw), "r0_data": Out(bits),
                          "r1_addr": In(aw), "r1_data": Out(bits)})

    def elaborate(self, platform):
        m = Module()
        ports = ((self.r0_addr, self.r0_data), (self.r1_addr, self.r1_data))
        if self.target == "generic" or self.depth > 2048:
            mem = Memory(shape=unsigned(self.bits), depth=self.depth, init=self.init)
            m.submodules.mem = mem
            for n, (addr, data) in enumerate(ports):
                rd = mem.read_port()
                out = Signal(self.bits, name=f"out{n}_r", reset_less=True)
                m.d.comb += [rd.addr.eq(addr), data.eq(out)]
                m.d.sync += out.eq(rd.data)
            return m
        slice_bits = 18 if self.depth <= 1024 else 9
        for k in range(-(-self.bits // slice_bits)):
            lo = k * slice_bits
            bits = min(slice_bits, self.bits - lo)
            words = [(w >> lo) & ((1 << bits) - 1) for w in self.init]
            width, _ = dp16kd_geometry(bits)
            low = _dp16kd_low_address(width)
            conn = {}
            for name, (addr, data) in zip("AB", ports):
                a = Signal(14, name=f"ad{name.lower()}{k}")
                do = Signal(18, name=f"do{name.lower()}{k}")
                m.d.comb += [a.eq(Cat(low, addr)), data[lo:lo + bits].eq(do[:bits])]
                for n in range(14):
                    conn[f"i_AD{name}{n}"] = a[n]
                for n in range(18):
                    conn[f"i_DI{name}{n}"] = Const(0, 1)
                    conn[f"o_DO{name}{n}"] = do[n]
                for n in range(3):
                    conn[f"i_CS{name}{n}"] = Const(0, 1)
                conn.update({f"i_CLK{name}": ClockSignal(), f"i_CE{name}": Const(1, 1),
                             f"i_OCE{name}": Const(1, 1), f"i_WE{name}": Const(0, 1),
                             f"i_RST{name}": Const(0, 1)})
            m.submodules[f"bram{k}"] = _dp16kd(width, "OUTREG", words, bits, **conn)
        return m
