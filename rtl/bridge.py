"""UART host bridge: framed, CRC-checked requests to the core's registers and streams.

The byte protocol is specified in ``skiplstm.protocol``; its constants, commands, statuses
and CRC-8 come from ``golden.interface``, which the host driver reads too.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.interface import (MAX_PAYLOAD, SYNC_REQUEST, SYNC_RESPONSE, VERSION, Cmd, Flag,
                              crc8_byte)
from golden.interface import BridgeStatus as Status

__all__ = ["UARTBridge", "crc8_next"]


# CRC-8 of one byte is linear in ``crc ^ byte``: output bit j is the xor of the input bits
# listed in row j (the reference ``golden.interface.crc8_byte`` of each single input bit).
_CRC8_ROWS = [[i for i in range(8) if crc8_byte(1 << i) >> j & 1] for j in range(8)]


def crc8_next(crc, byte):
    """``golden.interface.crc8`` of ``crc`` extended by ``byte``: one xor tree per output
    bit."""
    d = crc ^ byte
    bits = []
    for row in _CRC8_ROWS:
        v = d[row[0]]
        for i in row[1:]:
            v = v ^ d[i]
        bits.append(v)
    return Cat(*bits)


class UARTBridge(wiring.Component):
    """Executes host requests received byte by byte and sends one response per request.

    A request is buffered whole (2048-byte frame buffer) and executed only after its CRC
    and length check; while a request executes and its response goes out, received bytes
    are ignored (the host waits for the response).

    Parameters
    ----------
    x_bytes, w_bytes, h_bytes : bytes per x, parameter and h stream element.
    divisor : UART clock divisor (reported by INFO so that the host can check the build).
    frame_timeout : idle cycles after which a partial request is dropped.
    stall_timeout : cycles a stream element may wait for ``tready`` before ``STALLED``.

    Members
    -------
    rx_valid, rx_data : received bytes. tx_valid, tx_ready, tx_data : bytes to send.
    m_axil_* : AXI4-Lite master. x_*, w_* : AXI4-Stream masters. h_* : AXI4-Stream slave.
    frame_ok, frame_bad : one-cycle pulse per response (bad: any status but OK).
    """

    def __init__(self, x_bytes, w_bytes, h_bytes, divisor, frame_timeout, stall_timeout):
        self.xb, self.wb, self.hb = x_bytes, w_bytes, h_bytes
        self.divisor = divisor
        self.frame_timeout, self.stall_timeout = frame_timeout, stall_timeout
        self.eb = max(x_bytes, w_bytes)
        self.h_limit = (MAX_PAYLOAD - 1) // h_bytes
        super().__init__({
            "rx_valid": In(1), "rx_data": In(8),
            "tx_valid": Out(1), "tx_ready": In(1), "tx_data": Out(8),
            "m_axil_awaddr": Out(8), "m_axil_awvalid": Out(1), "m_axil_awready": In(1),
            "m_axil_wdata": Out(32), "m_axil_wvalid": Out(1), "m_axil_wready": In(1),
            "m_axil_bresp": In(2), "m_axil_bvalid": In(1), "m_axil_bready": Out(1),
            "m_axil_araddr": Out(8), "m_axil_arvalid": Out(1), "m_axil_arready": In(1),
            "m_axil_rdata": In(32), "m_axil_rresp": In(2), "m_axil_rvalid": In(1),
            "m_axil_rready": Out(1),
            "x_tdata": Out(8 * x_bytes), "x_tvalid": Out(1), "x_tready": In(1),
            "x_tlast": Out(1), "x_tuser": Out(1),
            "w_tdata": Out(8 * w_bytes), "w_tvalid": Out(1), "w_tready": In(1),
            "w_tlast": Out(1),
            "h_tdata": In(8 * h_bytes), "h_tvalid": In(1), "h_tready": Out(1), "h_tlast": In(1),
            "frame_ok": Out(1), "frame_bad": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        xb, wb, hb, eb = self.xb, self.wb, self.hb, self.eb

        buf = Memory(shape=8, depth=MAX_PAYLOAD + 1, init=[])
        m.submodules.buf = buf
        wr, rd = buf.write_port(), buf.read_port()
        # the buffer's read data registered beside the block RAM (read a cycle later): no
        # path from the block RAM (no output register) through the CRC or byte select
        rdata = Signal(8, name="rdata")
        m.d.sync += rdata.eq(rd.data)

        # Request state
        cmd = Signal(8, name="cmd")
        length = Signal(16, name="length")
        idx = Signal(16, name="idx")
        length_last = Signal(16, name="length_last")        # length - 1, set in LEN_CHECK
        crc = Signal(8, name="crc")
        arg = Array(Signal(8, name=f"arg{i}") for i in range(5))
        # element counts of the payload after its flags byte, for x and parameter words
        mod_x, mod_w = Signal(range(max(xb, 2)), name="mod_x"), Signal(range(max(wb, 2)),
                                                                          name="mod_w")
        n_x, n_w = Signal(16, name="n_x"), Signal(16, name="n_w")
        idle = Signal(range(self.frame_timeout + 1), name="idle")

        # Execution and response state
        status = Signal(8, name="status")
        rlen = Signal(16, name="rlen")
        rlen_last = Signal(16, name="rlen_last")            # rlen - 1, registered with rlen
        rlen_zero = Signal(name="rlen_zero")                # rlen == 0, likewise
        resp = Array(Signal(8, name=f"resp{i}") for i in range(8))
        k = Signal(16, name="k")
        is_w = Signal(name="is_w")
        n_el = Signal(16, name="n_el")
        e = Signal(16, name="e")
        byte = Signal(range(max(eb, hb, 2)), name="byte")
        elem = Signal(8 * eb, name="elem")
        helem = Signal(8 * hb, name="helem")
        hlast = Signal(name="hlast")
        stall = Signal(range(self.stall_timeout + 1), name="stall")
        aw_done, w_done = Signal(name="aw_done"), Signal(name="w_done")

        b = self.rx_data
        got = self.rx_valid
        m.d.sync += [self.frame_ok.eq(0), self.frame_bad.eq(0)]

        def respond(code, n=0):
            return [status.eq(code), rlen.eq(n), rlen_last.eq(n - 1), rlen_zero.eq(n == 0),
                    k.eq(0)]

        with m.FSM(name="bridge_fsm"):
            # ---- request reception ----
            with m.State("IDLE"):
                with m.If(got & (b == SYNC_REQUEST)):
                    m.d.sync += [crc.eq(0), idle.eq(0)]
                    m.next = "CMD"

            def timeout_guard():
                with m.If(got):
                    m.d.sync += idle.eq(0)
                with m.Elif(idle == self.frame_timeout):
                    m.d.sync += respond(Status.FRAME_TIMEOUT)
                    m.next = "TX_SYNC"
                with m.Else():
                    m.d.sync += idle.eq(idle + 1)

            with m.State("CMD"):
                timeout_guard()
                with m.If(got):
                    m.d.sync += [cmd.eq(b), crc.eq(crc8_next(crc, b))]
                    m.next = "LEN0"
            with m.State("LEN0"):
                timeout_guard()
                with m.If(got):
                    m.d.sync += [length[:8].eq(b), crc.eq(crc8_next(crc, b))]
                    m.next = "LEN1"
            with m.State("LEN1"):
                timeout_guard()
                with m.If(got):
                    m.d.sync += [length[8:].eq(b), crc.eq(crc8_next(crc, b)), idx.eq(0),
                                 mod_x.eq(0), mod_w.eq(0), n_x.eq(0), n_w.eq(0)]
                    m.next = "LEN_CHECK"
            with m.State("LEN_CHECK"):
                m.d.sync += length_last.eq(length - 1)
                m.next = "PAYLOAD"
                with m.If(length == 0):
                    m.next = "CRC"
            with m.State("PAYLOAD"):
                timeout_guard()
                with m.If(got):
                    with m.If(idx < MAX_PAYLOAD):
                        m.d.comb += [wr.en.eq(1), wr.addr.eq(idx), wr.data.eq(b)]
                    with m.If(idx < 5):
                        m.d.sync += arg[idx[:3]].eq(b)
                    with m.If(idx != 0):
                        with m.If(mod_x == xb - 1):
                            m.d.sync += [mod_x.eq(0), n_x.eq(n_x + 1)]
                        with m.Else():
                            m.d.sync += mod_x.eq(mod_x + 1)
                        with m.If(mod_w == wb - 1):
                            m.d.sync += [mod_w.eq(0), n_w.eq(n_w + 1)]
                        with m.Else():
                            m.d.sync += mod_w.eq(mod_w + 1)
                    m.d.sync += [crc.eq(crc8_next(crc, b)), idx.eq(idx + 1)]
                    with m.If(idx == length_last):
                        m.next = "CRC"
            with m.State("CRC"):
                timeout_guard()
                with m.If(got):
                    with m.If(b != crc):
                        m.d.sync += respond(Status.BAD_CRC)
                        m.next = "TX_SYNC"
                    with m.Else():
                        m.next = "CHECK"

            # ---- command and length check; nothing has been executed before this point ----
            with m.State("CHECK"):
                too_long = length > MAX_PAYLOAD
                m.d.sync += respond(Status.BAD_LEN)
                m.next = "TX_SYNC"
                with m.Switch(cmd):
                    with m.Case(Cmd.INFO):
                        with m.If(length == 0):
                            m.d.sync += [resp[0].eq(VERSION), resp[1].eq(xb), resp[2].eq(wb),
                                         resp[3].eq(hb), resp[4].eq(MAX_PAYLOAD & 0xFF),
                                         resp[5].eq(MAX_PAYLOAD >> 8),
                                         resp[6].eq(self.divisor & 0xFF),
                                         resp[7].eq((self.divisor >> 8) & 0xFF)]
                            m.d.sync += respond(Status.OK, 8)
                            m.next = "FILL"
                    with m.Case(Cmd.READ_REG):
                        with m.If(length == 1):
                            m.next = "AR"
                    with m.Case(Cmd.WRITE_REG):
                        with m.If(length == 5):
                            m.d.sync += [aw_done.eq(0), w_done.eq(0)]
                            m.next = "AW"
                    for code, w_side, mod, count in ((Cmd.SEND_X, 0, mod_x, n_x),
                                                     (Cmd.SEND_W, 1, mod_w, n_w)):
                        with m.Case(code):
                            # a flags byte, then whole elements
                            with m.If(~too_long & (length != 0) & (mod == 0)):
                                m.d.sync += [is_w.eq(w_side), n_el.eq(count), e.eq(0),
                                             idx.eq(1), byte.eq(0), elem.eq(0), stall.eq(0)]
                                m.next = "SEND_RD"
                                with m.If(count == 0):
                                    m.d.sync += [resp[0].eq(0), resp[1].eq(0)]
                                    m.d.sync += respond(Status.OK, 2)
                                    m.next = "FILL"
                    with m.Case(Cmd.RECV_H):
                        want = arg[0] | (arg[1] << 8)
                        with m.If(length == 2):
                            m.d.sync += [n_el.eq(Mux(want > self.h_limit, self.h_limit, want)),
                                         e.eq(0), idx.eq(1), hlast.eq(0)]
                            m.next = "H_WAIT"
                    with m.Default():
                        m.d.sync += respond(Status.BAD_CMD)

            # ---- registers ----
            with m.State("AR"):
                m.d.comb += [self.m_axil_araddr.eq(arg[0]), self.m_axil_arvalid.eq(1)]
                with m.If(self.m_axil_arready):
                    m.next = "R"
            with m.State("R"):
                m.d.comb += self.m_axil_rready.eq(1)
                with m.If(self.m_axil_rvalid):
                    d = self.m_axil_rdata
                    m.d.sync += [resp[0].eq(d[0:8]), resp[1].eq(d[8:16]), resp[2].eq(d[16:24]),
                                 resp[3].eq(d[24:32])]
                    m.d.sync += respond(Mux(self.m_axil_rresp[1], Status.SLVERR, Status.OK), 4)
                    m.next = "FILL"
            with m.State("AW"):
                m.d.comb += [self.m_axil_awaddr.eq(arg[0]), self.m_axil_awvalid.eq(~aw_done),
                             self.m_axil_wdata.eq(Const(0, 32) | arg[1] | (arg[2] << 8) |
                                                  (arg[3] << 16) | (arg[4] << 24)),
                             self.m_axil_wvalid.eq(~w_done)]
                aw_now = aw_done | self.m_axil_awready
                w_now = w_done | self.m_axil_wready
                m.d.sync += [aw_done.eq(aw_now), w_done.eq(w_now)]
                with m.If(aw_now & w_now):
                    m.next = "B"
            with m.State("B"):
                m.d.comb += self.m_axil_bready.eq(1)
                with m.If(self.m_axil_bvalid):
                    m.d.sync += respond(Mux(self.m_axil_bresp[1], Status.SLVERR, Status.OK))
                    m.next = "TX_SYNC"

            # ---- x / parameter elements: assemble little-endian bytes, then one beat ----
            nbytes = Mux(is_w, wb, xb)
            with m.State("SEND_RD"):
                m.d.comb += rd.addr.eq(idx)
                m.next = "SEND_WAIT"
            with m.State("SEND_WAIT"):
                m.d.comb += rd.addr.eq(idx)
                m.next = "SEND_BYTE"
            with m.State("SEND_BYTE"):
                m.d.sync += [elem.word_select(byte, 8).eq(rdata), idx.eq(idx + 1)]
                with m.If(byte == nbytes - 1):
                    m.d.sync += [byte.eq(0), stall.eq(0)]
                    m.next = "SEND_BEAT"
                with m.Else():
                    m.d.sync += byte.eq(byte + 1)
                    m.next = "SEND_RD"
            with m.State("SEND_BEAT"):
                flags = arg[0]
                last = (flags & int(Flag.LAST)).any() & (e == n_el - 1)
                m.d.comb += [self.x_tdata.eq(elem), self.x_tlast.eq(last),
                             self.x_tuser.eq((flags & int(Flag.FIRST)).any() & (e == 0)),
                             self.w_tdata.eq(elem), self.w_tlast.eq(last)]
                m.d.comb += [self.x_tvalid.eq(~is_w), self.w_tvalid.eq(is_w)]
                ready = Mux(is_w, self.w_tready, self.x_tready)
                done_count = Mux(ready, e + 1, e)
                with m.If(ready):
                    m.d.sync += [e.eq(e + 1), elem.eq(0)]
                    m.next = "SEND_RD"
                with m.Else():
                    m.d.sync += stall.eq(stall + 1)
                with m.If((ready & (e == n_el - 1)) | (~ready & (stall == self.stall_timeout))):
                    m.d.sync += [resp[0].eq(done_count[:8]), resp[1].eq(done_count[8:16])]
                    m.d.sync += respond(Mux(ready, Status.OK, Status.STALLED), 2)
                    m.next = "FILL"

            # ---- h elements: what the output FIFO holds, up to the end of a vector ----
            with m.State("H_WAIT"):
                with m.If((e < n_el) & ~hlast & self.h_tvalid):
                    m.d.comb += self.h_tready.eq(1)
                    m.d.sync += [helem.eq(self.h_tdata), hlast.eq(self.h_tlast), byte.eq(0)]
                    m.next = "H_BYTE"
                with m.Else():
                    m.d.comb += [wr.en.eq(1), wr.addr.eq(0), wr.data.eq(hlast)]
                    m.d.sync += respond(Status.OK, idx)
                    m.next = "TX_SYNC"
            with m.State("H_BYTE"):
                m.d.comb += [wr.en.eq(1), wr.addr.eq(idx), wr.data.eq(helem.word_select(byte, 8))]
                m.d.sync += [idx.eq(idx + 1), byte.eq(byte + 1)]
                with m.If(byte == hb - 1):
                    m.d.sync += e.eq(e + 1)
                    m.next = "H_WAIT"

            # ---- response ----
            with m.State("FILL"):
                m.d.comb += [wr.en.eq(1), wr.addr.eq(k), wr.data.eq(resp[k[:3]])]
                m.d.sync += k.eq(k + 1)
                with m.If(k == rlen_last):
                    m.d.sync += k.eq(0)
                    m.next = "TX_SYNC"

            def send(value, nxt, with_crc=True):
                m.d.comb += [self.tx_valid.eq(1), self.tx_data.eq(value)]
                with m.If(self.tx_ready):
                    if with_crc:
                        m.d.sync += crc.eq(crc8_next(crc, value))
                    m.next = nxt

            with m.State("TX_SYNC"):
                m.d.sync += crc.eq(0)
                send(SYNC_RESPONSE, "TX_STATUS", with_crc=False)
            with m.State("TX_STATUS"):
                send(status, "TX_LEN0")
            with m.State("TX_LEN0"):
                send(rlen[:8], "TX_LEN1")
            with m.State("TX_LEN1"):
                m.d.sync += k.eq(0)
                send(rlen[8:], "TX_RD")
                with m.If(self.tx_ready & rlen_zero):
                    m.next = "TX_CRC"
            with m.State("TX_RD"):
                m.d.comb += rd.addr.eq(k)
                m.next = "TX_WAIT"
            with m.State("TX_WAIT"):
                m.d.comb += rd.addr.eq(k)
                m.next = "TX_PAY"
            with m.State("TX_PAY"):
                m.d.comb += rd.addr.eq(k)
                send(rdata, "TX_RD")
                with m.If(self.tx_ready):
                    m.d.sync += k.eq(k + 1)
                    with m.If(k == rlen_last):
                        m.next = "TX_CRC"
            with m.State("TX_CRC"):
                send(crc, "IDLE", with_crc=False)
                with m.If(self.tx_ready):
                    m.d.sync += [self.frame_ok.eq(status == Status.OK),
                                 self.frame_bad.eq(status != Status.OK)]
        return m
