// Compiled test harness for the generated SkipLSTM Verilog (Verilator --cc --exe).
//
// No Python runs per cycle: the driver reads a command file, drives the AXI4-Stream and
// AXI4-Lite ports (seeded random gaps on x and w, random back-pressure on h) and writes
//   <out>.h    every h beat, int32 little-endian, sign-extended from the state format;
//   <out>.log  one line per event (register reads, writes, resets, protocol faults).
// sim/harness.py writes the command files, builds this driver once per configuration and
// compares the results with the golden model.
//
// Command file: one command per line, '#' starts a comment.
//   shape X H XBITS WBITS HBITS       stream sizes and value widths (first line)
//   seed S                            traffic random generator
//   gaps PX PW PH                     per-mille: x / w beat gaps, h tready low
//   reset N                           drop queued beats, rst high for N cycles; logs
//                                     "reset CYCLE BEATS" (h beats since the last reset)
//   x USER n v0 .. v(n-1)             n x beats, tuser=USER on the first, tlast on the last
//   xfile PATH T MODE                 T vectors of X int32 from PATH, tuser on the first;
//                                     MODE 0 queues all, MODE 1 runs one step at a time and
//                                     logs the CYCLES counter after each ("cyc t value")
//   w n v0 .. v(n-1)                  n parameter beats, tlast on the last
//   wr ADDR VALUE                     AXI4-Lite write; logs "wr ADDR VALUE RESP"
//   rd ADDR                           AXI4-Lite read; logs "rd ADDR VALUE RESP"
//   wait_x / wait_w                   until the x / w queue has been accepted
//   wait_h N                          until N h beats have arrived since the last reset
//   idle                              until the queues are empty and STATUS.BUSY is 0
//   run N                             N clock cycles
//   mark TEXT                         logs "mark TEXT" with the h beat count
//   timeout N                         a wait longer than N cycles fails (default 2e8)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "Vtop.h"
#include "verilated.h"
#if VM_TRACE
#include "verilated_vcd_c.h"
#endif

namespace {

// Register offsets and the STATUS.BUSY mask come from golden/interface.py as -D definitions
// (sim/harness.py passes them), so that the register map is written down once.
#if !defined(SKL_REG_STATUS) || !defined(SKL_REG_CYCLES_LO) || !defined(SKL_REG_CYCLES_HI) || \
    !defined(SKL_STATUS_BUSY)
#error "build through sim/harness.py, which defines SKL_REG_* and SKL_STATUS_BUSY"
#endif
constexpr uint32_t REG_STATUS = SKL_REG_STATUS, REG_CYCLES_LO = SKL_REG_CYCLES_LO,
                   REG_CYCLES_HI = SKL_REG_CYCLES_HI, STATUS_BUSY = SKL_STATUS_BUSY;

struct Beat {
    uint32_t data;
    bool last, user;
};

struct Fault {
    std::string what;
};

class Harness {
public:
    Harness(Vtop *top, FILE *hout, FILE *log) : top_(top), hout_(hout), log_(log) {
        top_->clk = 0;
        top_->rst = 1;
        top_->eval();
    }

#if VM_TRACE
    void trace(const char *path) {
        Verilated::traceEverOn(true);
        vcd_ = std::make_unique<VerilatedVcdC>();
        top_->trace(vcd_.get(), 99);
        vcd_->open(path);
    }
    void close_trace() {
        if (vcd_) vcd_->close();
    }
#endif

    uint64_t cycles() const { return cycle_; }
    uint64_t h_beats() const { return h_count_; }

    void shape(int x, int h, int xbits, int wbits, int hbits) {
        X_ = x;
        H_ = h;
        xmask_ = mask(xbits);
        wmask_ = mask(wbits);
        hbits_ = hbits;
    }
    void seed(uint64_t s) { rng_.seed(s); }
    void gaps(int px, int pw, int ph) { px_ = px, pw_ = pw, ph_ = ph; }
    void timeout(uint64_t n) { timeout_ = n; }

    void push_x(uint32_t v, bool last, bool user) { xq_.push_back({v & xmask_, last, user}); }
    void push_w(uint32_t v, bool last) { wq_.push_back({v & wmask_, last, false}); }

    void reset(int n) {
        uint64_t before = h_count_;
        xq_.clear();
        wq_.clear();
        x_valid_ = w_valid_ = false;
        top_->rst = 1;
        for (int i = 0; i < n; i++) tick();
        top_->rst = 0;
        h_count_ = 0;
        fprintf(log_, "reset %llu %llu\n", (unsigned long long)cycle_, (unsigned long long)before);
    }

    void run(uint64_t n) {
        for (uint64_t i = 0; i < n; i++) tick();
    }

    template <typename Cond>
    void wait(const char *what, Cond done) {
        uint64_t start = cycle_;
        while (!done()) {
            tick();
            if (cycle_ - start > timeout_) throw Fault{std::string("timeout in ") + what};
        }
    }

    void wait_x() { wait("wait_x", [&] { return xq_.empty() && !x_valid_; }); }
    void wait_w() { wait("wait_w", [&] { return wq_.empty() && !w_valid_; }); }
    void wait_h(uint64_t n) { wait("wait_h", [&] { return h_count_ >= n; }); }

    void idle() {
        wait_x();
        wait_w();
        uint64_t start = cycle_;
        for (;;) {
            uint32_t resp;
            if (!(read(REG_STATUS, &resp) & STATUS_BUSY)) return;
            if (cycle_ - start > timeout_) throw Fault{"timeout in idle (STATUS.BUSY stays 1)"};
        }
    }

    uint32_t write(uint32_t addr, uint32_t value) {
        top_->s_axil_awaddr = addr;
        top_->s_axil_awprot = 0;
        top_->s_axil_wdata = value;
        top_->s_axil_wstrb = 0xF;
        bool aw = false, w = false;
        uint64_t start = cycle_;
        while (!(aw && w)) {
            top_->s_axil_awvalid = !aw;
            top_->s_axil_wvalid = !w;
            settle();
            bool aw_fire = !aw && top_->s_axil_awready;
            bool w_fire = !w && top_->s_axil_wready;
            tick_edge();
            aw |= aw_fire;
            w |= w_fire;
            if (cycle_ - start > 100000) throw Fault{"timeout in AXI4-Lite write address/data"};
        }
        top_->s_axil_awvalid = 0;
        top_->s_axil_wvalid = 0;
        top_->s_axil_bready = 1;
        uint32_t resp = 0;
        for (;;) {
            settle();
            bool fire = top_->s_axil_bvalid;
            resp = top_->s_axil_bresp;
            tick_edge();
            if (fire) break;
            if (cycle_ - start > 100000) throw Fault{"timeout in AXI4-Lite write response"};
        }
        top_->s_axil_bready = 0;
        return resp;
    }

    uint32_t read(uint32_t addr, uint32_t *resp) {
        top_->s_axil_araddr = addr;
        top_->s_axil_arprot = 0;
        top_->s_axil_arvalid = 1;
        uint64_t start = cycle_;
        for (;;) {
            settle();
            bool fire = top_->s_axil_arready;
            tick_edge();
            if (fire) break;
            if (cycle_ - start > 100000) throw Fault{"timeout in AXI4-Lite read address"};
        }
        top_->s_axil_arvalid = 0;
        top_->s_axil_rready = 1;
        uint32_t data = 0;
        for (;;) {
            settle();
            bool fire = top_->s_axil_rvalid;
            data = top_->s_axil_rdata;
            *resp = top_->s_axil_rresp;
            tick_edge();
            if (fire) break;
            if (cycle_ - start > 100000) throw Fault{"timeout in AXI4-Lite read data"};
        }
        top_->s_axil_rready = 0;
        return data;
    }

    uint64_t read_cycles() {
        uint32_t r;
        uint64_t lo = read(REG_CYCLES_LO, &r);
        uint64_t hi = read(REG_CYCLES_HI, &r);
        return lo | hi << 32;
    }

    void tick() {
        settle();
        tick_edge();
    }

private:
    static uint32_t mask(int bits) { return bits >= 32 ? 0xFFFFFFFFu : (1u << bits) - 1; }
    bool chance(int per_mille) { return per_mille > 0 && int(rng_() % 1000) < per_mille; }

    // Drive the stream inputs for this cycle and let the logic settle (clock low).
    void settle() {
        // A source keeps tvalid up until its beat is taken (AXI4-Stream); gaps fall between beats.
        if (!x_valid_ && !xq_.empty() && !chance(px_)) x_valid_ = true;
        if (!w_valid_ && !wq_.empty() && !chance(pw_)) w_valid_ = true;
        top_->s_axis_x_tvalid = x_valid_;
        if (x_valid_) {
            const Beat &b = xq_.front();
            top_->s_axis_x_tdata = b.data;
            top_->s_axis_x_tlast = b.last;
            top_->s_axis_x_tuser = b.user;
        }
        top_->s_axis_w_tvalid = w_valid_;
        if (w_valid_) {
            const Beat &b = wq_.front();
            top_->s_axis_w_tdata = b.data;
            top_->s_axis_w_tlast = b.last;
        }
        top_->m_axis_h_tready = !chance(ph_);
        top_->clk = 0;
        top_->eval();
#if VM_TRACE
        if (vcd_) vcd_->dump(2 * cycle_);
#endif
    }

    // Sample the handshakes, then the rising edge.
    void tick_edge() {
        bool x_fire = x_valid_ && top_->s_axis_x_tready;
        bool w_fire = w_valid_ && top_->s_axis_w_tready;
        bool h_fire = !top_->rst && top_->m_axis_h_tvalid && top_->m_axis_h_tready;
        if (h_fire) {
            uint32_t raw = top_->m_axis_h_tdata;
            int32_t v = int32_t(raw << (32 - hbits_)) >> (32 - hbits_);
            fwrite(&v, sizeof v, 1, hout_);
            bool want_last = (h_count_ % H_) == uint64_t(H_ - 1);
            if (bool(top_->m_axis_h_tlast) != want_last)
                fprintf(log_, "fault h_tlast beat %llu tlast %d\n", (unsigned long long)h_count_,
                        int(top_->m_axis_h_tlast));
            h_count_++;
        }
        top_->clk = 1;
        top_->eval();
#if VM_TRACE
        if (vcd_) vcd_->dump(2 * cycle_ + 1);
#endif
        cycle_++;
        if (x_fire) {
            xq_.pop_front();
            x_valid_ = false;
        }
        if (w_fire) {
            wq_.pop_front();
            w_valid_ = false;
        }
    }

    Vtop *top_;
    FILE *hout_, *log_;
#if VM_TRACE
    std::unique_ptr<VerilatedVcdC> vcd_;
#endif
    std::deque<Beat> xq_, wq_;
    bool x_valid_ = false, w_valid_ = false;
    std::mt19937_64 rng_{1};
    int px_ = 0, pw_ = 0, ph_ = 0;
    int X_ = 1, H_ = 1, hbits_ = 32;
    uint32_t xmask_ = ~0u, wmask_ = ~0u;
    uint64_t cycle_ = 0, h_count_ = 0, timeout_ = 200000000ull;
};

std::vector<int32_t> read_ints(const std::string &path, size_t n) {
    std::vector<int32_t> v(n);
    FILE *f = fopen(path.c_str(), "rb");
    if (!f) throw Fault{"cannot open " + path};
    size_t got = fread(v.data(), sizeof(int32_t), n, f);
    fclose(f);
    if (got != n) throw Fault{path + ": expected " + std::to_string(n) + " int32 values, found " +
                              std::to_string(got)};
    return v;
}

int run_commands(Harness &hw, std::istream &in, FILE *log) {
    std::string line;
    int X = 1, H = 1, lineno = 0;
    while (std::getline(in, line)) {
        lineno++;
        auto hash = line.find('#');
        if (hash != std::string::npos) line.resize(hash);
        std::istringstream s(line);
        std::string cmd;
        if (!(s >> cmd)) continue;
        try {
            if (cmd == "shape") {
                int xb, wb, hb;
                s >> X >> H >> xb >> wb >> hb;
                hw.shape(X, H, xb, wb, hb);
            } else if (cmd == "seed") {
                uint64_t v;
                s >> v;
                hw.seed(v);
            } else if (cmd == "gaps") {
                int a, b, c;
                s >> a >> b >> c;
                hw.gaps(a, b, c);
            } else if (cmd == "timeout") {
                uint64_t n;
                s >> n;
                hw.timeout(n);
            } else if (cmd == "reset") {
                int n;
                s >> n;
                hw.reset(n);
            } else if (cmd == "x") {
                int user, n;
                s >> user >> n;
                for (int i = 0; i < n; i++) {
                    long long v;
                    s >> v;
                    hw.push_x(uint32_t(v), i == n - 1, user && i == 0);
                }
            } else if (cmd == "w") {
                int n;
                s >> n;
                for (int i = 0; i < n; i++) {
                    long long v;
                    s >> v;
                    hw.push_w(uint32_t(v), i == n - 1);
                }
            } else if (cmd == "xfile") {
                std::string path;
                long long T;
                int mode;
                s >> path >> T >> mode;
                auto v = read_ints(path, size_t(T) * X);
                uint64_t prev = mode ? hw.read_cycles() : 0;
                for (long long t = 0; t < T; t++) {
                    for (int e = 0; e < X; e++) hw.push_x(uint32_t(v[t * X + e]), e == X - 1, t == 0 && e == 0);
                    if (mode) {
                        hw.wait_h(hw.h_beats() - hw.h_beats() % H + H);
                        hw.idle();
                        uint64_t c = hw.read_cycles();
                        fprintf(log, "cyc %lld %llu\n", t, (unsigned long long)(c - prev));
                        prev = c;
                    }
                }
            } else if (cmd == "wr") {
                uint32_t a, v;
                s >> std::hex >> a >> std::dec >> v;
                uint32_t r = hw.write(a, v);
                fprintf(log, "wr %u %u %u\n", a, v, r);
            } else if (cmd == "rd") {
                uint32_t a, r;
                s >> std::hex >> a;
                uint32_t v = hw.read(a, &r);
                fprintf(log, "rd %u %u %u\n", a, v, r);
            } else if (cmd == "wait_x") {
                hw.wait_x();
            } else if (cmd == "wait_w") {
                hw.wait_w();
            } else if (cmd == "wait_h") {
                uint64_t n;
                s >> n;
                hw.wait_h(n);
            } else if (cmd == "idle") {
                hw.idle();
            } else if (cmd == "run") {
                uint64_t n;
                s >> n;
                hw.run(n);
            } else if (cmd == "mark") {
                std::string rest;
                std::getline(s, rest);
                fprintf(log, "mark%s %llu\n", rest.c_str(), (unsigned long long)hw.h_beats());
            } else {
                throw Fault{"unknown command '" + cmd + "'"};
            }
            if (s.fail()) throw Fault{"malformed arguments"};
        } catch (const Fault &f) {
            fprintf(log, "error line %d (%s): %s\n", lineno, cmd.c_str(), f.what.c_str());
            fprintf(stderr, "harness: line %d (%s): %s\n", lineno, cmd.c_str(), f.what.c_str());
            return 3;
        }
    }
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    Verilated::commandArgs(argc, argv);
    const char *cmds = nullptr, *out = nullptr, *vcd = nullptr;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--vcd") && i + 1 < argc) vcd = argv[++i];
        else if (argv[i][0] == '+') continue;
        else if (!cmds) cmds = argv[i];
        else if (!out) out = argv[i];
    }
    if (!cmds || !out) {
        fprintf(stderr, "usage: %s COMMANDS OUT_PREFIX [--vcd FILE]\n", argv[0]);
        return 2;
    }
    std::ifstream in(cmds);
    if (!in) {
        fprintf(stderr, "harness: cannot read %s\n", cmds);
        return 2;
    }
    std::string hpath = std::string(out) + ".h", lpath = std::string(out) + ".log";
    FILE *hout = fopen(hpath.c_str(), "wb");
    FILE *log = fopen(lpath.c_str(), "w");
    if (!hout || !log) {
        fprintf(stderr, "harness: cannot write %s.{h,log}\n", out);
        return 2;
    }
    auto ctx = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<Vtop>(ctx.get());
    Harness hw(top.get(), hout, log);
    if (vcd) {
#if VM_TRACE
        hw.trace(vcd);
#else
        fprintf(stderr, "harness: built without tracing; rebuild with waves\n");
        return 2;
#endif
    }
    int rc = run_commands(hw, in, log);
    fprintf(log, "end %llu\n", (unsigned long long)hw.cycles());
#if VM_TRACE
    hw.close_trace();
#endif
    top->final();
    fclose(hout);
    fclose(log);
    return rc;
}
