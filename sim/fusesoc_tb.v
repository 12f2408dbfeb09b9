// Self-checking testbench of a generated SkipLSTM core (the FuseSoC `sim` target). The
// generator (flow/fusesoc.py) writes skiplstm_tb.vh and the vectors: tb_x.hex (inputs,
// one element per line), tb_w.hex (parameter beats), tb_h.hex (the golden h expected).
// Sets THRESHOLD, loads the parameters through s_axis_w unless they are baked in, sends the
// inputs as one sequence and compares every h beat and its tlast. Prints PASS, or FAIL and
// stops with $fatal (a non-zero exit).
`timescale 1ns / 1ps
`include "skiplstm_tb.vh"

module tb_skiplstm;
  localparam X = `SKL_X, H = `SKL_H, T = `SKL_T;
  localparam NX = X * T, NH = H * T, NW = `SKL_WBEATS;

  reg clk = 1'b0, rst = 1'b1;
  always #5 clk = ~clk;

  reg [`SKL_XW-1:0] xmem [0:NX-1];
  reg [`SKL_HW-1:0] hmem [0:NH-1];
  reg [`SKL_WW-1:0] wmem [0:NW-1];
  initial begin
    $readmemh("tb_x.hex", xmem);
    $readmemh("tb_h.hex", hmem);
    $readmemh("tb_w.hex", wmem);
  end

  // streams: counters advance on handshakes; data follow the counters
  reg x_go = 1'b0, w_go = 1'b0;
  integer xi = 0, wi = 0, hi = 0, errors = 0;
  wire x_ready, w_ready, h_valid, h_last;
  wire [`SKL_HW-1:0] h_data;
  wire x_valid = x_go && xi < NX;
  wire w_valid = w_go && wi < NW;
  always @(posedge clk) begin
    if (x_valid && x_ready) xi <= xi + 1;
    if (w_valid && w_ready) wi <= wi + 1;
    if (h_valid) begin
      if (hi >= NH) begin
        errors = errors + 1;
        $display("FAIL: h beat %0d beyond the %0d expected", hi, NH);
      end else if (h_data !== hmem[hi] || h_last !== ((hi % H) == H - 1)) begin
        errors = errors + 1;
        if (errors <= 5)
          $display("FAIL: step %0d unit %0d: got %h (tlast %b), want %h", hi / H, hi % H,
                   h_data, h_last, hmem[hi]);
      end
      hi <= hi + 1;
    end
  end

  reg [7:0] awaddr = 8'd0;
  reg [31:0] wdata = 32'd0;
  reg awvalid = 1'b0, wvalid = 1'b0, bready = 1'b0;
  wire awready, wready, bvalid, arready, rvalid;
  wire [1:0] bresp, rresp;
  wire [31:0] rdata;

  `SKL_TOP dut (
    .clk(clk), .rst(rst),
    .s_axis_x_tdata(xmem[xi < NX ? xi : 0]), .s_axis_x_tvalid(x_valid),
    .s_axis_x_tready(x_ready), .s_axis_x_tlast((xi % X) == X - 1), .s_axis_x_tuser(xi == 0),
    .m_axis_h_tdata(h_data), .m_axis_h_tvalid(h_valid), .m_axis_h_tready(1'b1),
    .m_axis_h_tlast(h_last),
    .s_axis_w_tdata(wmem[wi < NW ? wi : 0]), .s_axis_w_tvalid(w_valid),
    .s_axis_w_tready(w_ready), .s_axis_w_tlast(wi == NW - 1),
    .s_axil_awaddr(awaddr), .s_axil_awprot(3'd0), .s_axil_awvalid(awvalid),
    .s_axil_awready(awready), .s_axil_wdata(wdata), .s_axil_wstrb(4'hf),
    .s_axil_wvalid(wvalid), .s_axil_wready(wready), .s_axil_bresp(bresp),
    .s_axil_bvalid(bvalid), .s_axil_bready(bready),
    .s_axil_araddr(8'd0), .s_axil_arprot(3'd0), .s_axil_arvalid(1'b0),
    .s_axil_arready(arready), .s_axil_rdata(rdata), .s_axil_rresp(rresp),
    .s_axil_rvalid(rvalid), .s_axil_rready(1'b1)
  );

  // signals are driven at the falling edge and sampled at the rising one
  task axil_write(input [7:0] addr, input [31:0] data);
    begin
      @(negedge clk);
      awaddr = addr; wdata = data; awvalid = 1'b1; wvalid = 1'b1;
      #1;
      while (!awready) @(negedge clk);
      @(negedge clk);
      awvalid = 1'b0; wvalid = 1'b0; bready = 1'b1;
      while (!bvalid) @(negedge clk);
      if (bresp != 2'b00) begin
        errors = errors + 1;
        $display("FAIL: write to 0x%h answered %b", addr, bresp);
      end
      @(negedge clk);
      bready = 1'b0;
    end
  endtask

  integer cycles = 0;
  always @(posedge clk) cycles <= cycles + 1;

  initial begin
    repeat (5) @(negedge clk);
    rst = 1'b0;
    axil_write(8'h14, `SKL_THETA);                   // THRESHOLD
    if (!`SKL_BAKED) begin
      @(negedge clk) w_go = 1'b1;
      while (wi < NW) @(negedge clk);
      w_go = 1'b0;
    end
    @(negedge clk) x_go = 1'b1;
    while (hi < NH && cycles < 50000000) @(negedge clk);
    repeat (20) @(negedge clk);                      // extra h beats would show up here
    if (hi != NH) begin
      errors = errors + 1;
      $display("FAIL: %0d of %0d h beats arrived", hi, NH);
    end
    if (errors == 0) begin
      $display("PASS: %0d steps, %0d h beats equal to the golden model", T, NH);
      $finish;
    end
    $fatal(1, "FAIL: %0d mismatches", errors);
  end
endmodule
