"""AXI4-Lite control/status registers and performance counters (docs/contract.md section 4;
offsets, fields and reset values from ``golden.interface``)."""

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.interface import (ARCH_BAKED, ARCH_OVERLAP, FIELDS, ID_VALUE, RESET, WRITABLE,
                              Ctrl, Reg, Resp, StatusBit, bit)

from .reduce import or_all

__all__ = ["Registers", "axil_ports"]


def axil_ports():
    """The AXI4-Lite port members (slave side), flat, conventionally named."""
    return {
        "s_axil_awaddr": In(8), "s_axil_awprot": In(3), "s_axil_awvalid": In(1),
        "s_axil_awready": Out(1),
        "s_axil_wdata": In(32), "s_axil_wstrb": In(4), "s_axil_wvalid": In(1),
        "s_axil_wready": Out(1),
        "s_axil_bresp": Out(2), "s_axil_bvalid": Out(1), "s_axil_bready": In(1),
        "s_axil_araddr": In(8), "s_axil_arprot": In(3), "s_axil_arvalid": In(1),
        "s_axil_arready": Out(1),
        "s_axil_rdata": Out(32), "s_axil_rresp": Out(2), "s_axil_rvalid": Out(1),
        "s_axil_rready": In(1),
    }


class Registers(wiring.Component):
    """AXI4-Lite slave, 32-bit data, 8-bit byte addresses; one outstanding transaction per
    direction. Writes take AW and W together; byte strobes are ignored (registers are written
    whole). Unmapped addresses answer SLVERR (reads return 0). Reading CYCLES_LO latches the
    high word, so CYCLES_LO then CYCLES_HI is one consistent 64-bit value.

    Members
    -------
    s_axil_* : the AXI4-Lite port.
    sparse, theta : CTRL.SPARSE and THRESHOLD. clear_state, clear_counters : one-cycle pulses.
    busy, protocol_error : STATUS inputs (the error input sets the sticky bit).
    cycle_inc, step_inc, columns_add, skipped_add : counter updates.
    """

    def __init__(self, cfg, baked=False):
        self.cfg = cfg
        self.baked = baked
        hb = cfg.formats.state.bits
        super().__init__({
            **axil_ports(),
            "sparse": Out(1, init=bool(RESET[Reg.CTRL] & Ctrl.SPARSE)),
            "theta": Out(unsigned(hb)),
            "clear_state": Out(1), "clear_counters": Out(1),
            "busy": In(1), "protocol_error": In(1),
            "cycle_inc": In(1), "step_inc": In(1),
            "columns_add": In(range(cfg.columns + 1)), "skipped_add": In(range(cfg.columns + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg

        # Internal state: counters and sticky status
        cycles = Signal(64, name="cycles")
        cycles_hi = Signal(32, name="cycles_hi_latched")
        steps, columns, skipped = Signal(32, name="steps"), Signal(32, name="columns"), \
            Signal(32, name="skipped")
        perr = Signal(name="perr")

        with m.If(self.clear_counters):
            m.d.sync += [cycles.eq(0), steps.eq(0), columns.eq(0), skipped.eq(0)]
        with m.Else():
            with m.If(self.cycle_inc):
                m.d.sync += cycles.eq(cycles + 1)
            with m.If(self.step_inc):
                m.d.sync += [steps.eq(steps + 1), columns.eq(columns + self.columns_add),
                             skipped.eq(skipped + self.skipped_add)]

        # Write channel
        m.d.sync += [self.clear_state.eq(0), self.clear_counters.eq(0)]
        clear_perr = Signal(name="clear_perr")
        do_write = self.s_axil_awvalid & self.s_axil_wvalid & ~self.s_axil_bvalid
        m.d.comb += [self.s_axil_awready.eq(do_write), self.s_axil_wready.eq(do_write)]
        with m.If(do_write):
            m.d.sync += [self.s_axil_bvalid.eq(1), self.s_axil_bresp.eq(Resp.OKAY)]
            wd = self.s_axil_wdata
            with m.Switch(self.s_axil_awaddr):
                with m.Case(Reg.CTRL):
                    m.d.sync += [self.sparse.eq(wd[bit(Ctrl.SPARSE)]),
                                 self.clear_state.eq(wd[bit(Ctrl.CLEAR_STATE)]),
                                 self.clear_counters.eq(wd[bit(Ctrl.CLEAR_COUNTERS)])]
                with m.Case(Reg.THRESHOLD):
                    m.d.sync += self.theta.eq(wd[:len(self.theta)])
                with m.Case(Reg.STATUS):
                    m.d.comb += clear_perr.eq(wd[bit(StatusBit.PROTOCOL_ERROR)])
                with m.Case(*[r for r in Reg if r not in WRITABLE]):
                    pass                                     # read-only: write ignored
                with m.Default():
                    m.d.sync += self.s_axil_bresp.eq(Resp.SLVERR)
        with m.Elif(self.s_axil_bvalid & self.s_axil_bready):
            m.d.sync += self.s_axil_bvalid.eq(0)
        with m.If(self.protocol_error):
            m.d.sync += perr.eq(1)
        with m.Elif(clear_perr):
            m.d.sync += perr.eq(0)

        # Read channel: the address is decoded into one flag per register as it is taken,
        # the register read the cycle after (the response two cycles after the handshake; no
        # path from the port to the counters, and the read an AND-OR of the flags)
        rd_pending = Signal(name="rd_pending")
        arch = (FIELDS["ARCH.LANES"].put(cfg.lanes) | (ARCH_BAKED if self.baked else 0)
                | (ARCH_OVERLAP if cfg.overlap else 0))
        shape = (FIELDS["SHAPE.INPUT_SIZE"].put(cfg.input_size)
                 | FIELDS["SHAPE.HIDDEN_SIZE"].put(cfg.hidden_size))
        # one-bit fields at bit 0 are read without a shift
        assert bit(StatusBit.BUSY) == 0 and bit(Ctrl.SPARSE) == 0
        status = self.busy | (perr << bit(StatusBit.PROTOCOL_ERROR))
        values = {
            Reg.ID: ID_VALUE, Reg.SHAPE: shape, Reg.ARCH: arch,
            Reg.CTRL: self.sparse, Reg.THRESHOLD: self.theta,
            Reg.STATUS: status,
            Reg.CYCLES_LO: cycles[:32], Reg.CYCLES_HI: cycles_hi, Reg.STEPS: steps,
            Reg.COLUMNS: columns, Reg.SKIPPED: skipped,
        }
        rd_hit = {reg: Signal(name=f"rd_{reg.name.lower()}") for reg in values}
        m.d.comb += self.s_axil_arready.eq(~self.s_axil_rvalid & ~rd_pending)
        m.d.sync += rd_pending.eq(self.s_axil_arvalid & self.s_axil_arready)
        with m.If(self.s_axil_arvalid & self.s_axil_arready):
            m.d.sync += [hit.eq(self.s_axil_araddr == reg) for reg, hit in rd_hit.items()]
        with m.If(rd_pending):
            m.d.sync += [
                self.s_axil_rvalid.eq(1),
                self.s_axil_rresp.eq(Mux(or_all(rd_hit.values()), Resp.OKAY, Resp.SLVERR)),
                self.s_axil_rdata.eq(or_all(Mux(hit, values[reg], 0)
                                            for reg, hit in rd_hit.items())),
            ]
            with m.If(rd_hit[Reg.CYCLES_LO]):
                m.d.sync += cycles_hi.eq(cycles[32:])
        with m.Elif(self.s_axil_rvalid & self.s_axil_rready):
            m.d.sync += self.s_axil_rvalid.eq(0)
        return m
