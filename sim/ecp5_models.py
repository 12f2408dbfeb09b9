"""Behavioural Verilog models of the two ECP5 primitives the ``ecp5`` target instantiates.

Yosys ships only blackboxes for ``MULT18X18D`` and ``DP16KD``; these models let Icarus and
Verilator simulate the ``ecp5`` variant of the generated Verilog next to the ``generic`` one
(``tests/test_ecp5_target.py``). They cover the configurations ``rtl.primitives`` uses and
stop the simulation on any other:

- ``MULT18X18D``: 18 x 18 -> 36 bits, ``SIGNEDA`` / ``SIGNEDB``; input registers A and B and
  the output register each either bypassed (``NONE``) or on ``CLK0`` / ``CE0`` / ``RST0``
  (synchronous reset); no pipeline register, no C input, no cascade.
- ``DP16KD``: 1024 x 18 bits; each port 9 or 18 bits wide (address ``ADx13..3`` or
  ``ADx13..4``; x18 writes use the byte enables ``ADx1..0``), ``REGMODE`` ``NOREG`` or
  ``OUTREG``, ``WRITEMODE NORMAL``, no chip select decode, initial contents from
  ``INITVAL_00`` .. ``INITVAL_3F`` (16 18-bit words per value, one every 20 bits). A read
  in the cycle of a write to the same word (other port) returns the old word.

    python -m sim.ecp5_models build/ecp5_models.v
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["models_verilog", "write_models"]


def _bits(name, n):
    return ", ".join(f"{name}{i}" for i in reversed(range(n)))


def _mult18x18d():
    params = {
        "REG_INPUTA_CLK": "NONE", "REG_INPUTA_CE": "CE0", "REG_INPUTA_RST": "RST0",
        "REG_INPUTB_CLK": "NONE", "REG_INPUTB_CE": "CE0", "REG_INPUTB_RST": "RST0",
        "REG_INPUTC_CLK": "NONE", "REG_PIPELINE_CLK": "NONE",
        "REG_OUTPUT_CLK": "NONE", "REG_OUTPUT_CE": "CE0", "REG_OUTPUT_RST": "RST0",
        "GSR": "ENABLED", "RESETMODE": "SYNC", "MULT_BYPASS": "DISABLED",
        "SOURCEB_MODE": "B_SHIFT", "CAS_MATCH_REG": "FALSE",
    }
    decl = "\n".join(f'  parameter {k} = "{v}";' for k, v in params.items())
    return f"""
module MULT18X18D (
  input {_bits("A", 18)},
  input {_bits("B", 18)},
  input {_bits("C", 18)},
  input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
  input CLK0, CLK1, CLK2, CLK3, CE0, CE1, CE2, CE3, RST0, RST1, RST2, RST3,
  output {_bits("P", 36)}
);
{decl}
  wire [17:0] a = {{{_bits("A", 18)}}};
  wire [17:0] b = {{{_bits("B", 18)}}};
  reg [17:0] a_r = 18'd0, b_r = 18'd0;
  reg [35:0] p_r = 36'd0;
  wire [17:0] a_in = (REG_INPUTA_CLK == "CLK0") ? a_r : a;
  wire [17:0] b_in = (REG_INPUTB_CLK == "CLK0") ? b_r : b;
  wire signed [18:0] a_x = {{SIGNEDA & a_in[17], a_in}};
  wire signed [18:0] b_x = {{SIGNEDB & b_in[17], b_in}};
  wire signed [37:0] prod = a_x * b_x;
  initial begin
    if ((REG_INPUTA_CLK != "NONE" && (REG_INPUTA_CLK != "CLK0" || REG_INPUTA_CE != "CE0" ||
         REG_INPUTA_RST != "RST0")) ||
        (REG_INPUTB_CLK != "NONE" && (REG_INPUTB_CLK != "CLK0" || REG_INPUTB_CE != "CE0" ||
         REG_INPUTB_RST != "RST0")) ||
        (REG_OUTPUT_CLK != "NONE" && (REG_OUTPUT_CLK != "CLK0" || REG_OUTPUT_CE != "CE0" ||
         REG_OUTPUT_RST != "RST0")) ||
        REG_INPUTC_CLK != "NONE" || REG_PIPELINE_CLK != "NONE" || RESETMODE != "SYNC" ||
        MULT_BYPASS != "DISABLED") begin
      $display("MULT18X18D model: unsupported configuration in %m");
      $finish;
    end
  end
  always @(posedge CLK0) begin
    if (RST0) begin
      a_r <= 18'd0; b_r <= 18'd0; p_r <= 36'd0;
    end else if (CE0) begin
      a_r <= a; b_r <= b; p_r <= prod[35:0];
    end
  end
  assign {{{_bits("P", 36)}}} = (REG_OUTPUT_CLK == "CLK0") ? p_r : prod[35:0];
endmodule
"""


def _dp16kd():
    inits = "\n".join(f"  parameter [319:0] INITVAL_{i:02X} = 320'h0;" for i in range(64))
    load = "\n".join(f"    for (i = 0; i < 16; i = i + 1) mem[{i * 16} + i] = INITVAL_{i:02X}[i*20 +: 18];"
                     for i in range(64))
    port = {}
    for p in "AB":
        port[p] = f"""
  wire [13:0] ad{p.lower()} = {{{_bits(f"AD{p}", 14)}}};
  wire [17:0] di{p.lower()} = {{{_bits(f"DI{p}", 18)}}};
  wire [10:0] a9_{p.lower()} = ad{p.lower()}[13:3];
  wire [9:0] a18_{p.lower()} = ad{p.lower()}[13:4];
  reg [17:0] latch_{p.lower()} = 18'd0, out_{p.lower()} = 18'd0;
  always @(posedge CLK{p}) begin
    if (CE{p}) begin
      if (WE{p}) begin
        if (DATA_WIDTH_{p} == 9)
          mem[a9_{p.lower()}[10:1]][a9_{p.lower()}[0]*9 +: 9] <= di{p.lower()}[8:0];
        else begin
          if (ad{p.lower()}[0]) mem[a18_{p.lower()}][8:0] <= di{p.lower()}[8:0];
          if (ad{p.lower()}[1]) mem[a18_{p.lower()}][17:9] <= di{p.lower()}[17:9];
        end
      end else if (DATA_WIDTH_{p} == 9)
        latch_{p.lower()} <= {{9'd0, mem[a9_{p.lower()}[10:1]][a9_{p.lower()}[0]*9 +: 9]}};
      else
        latch_{p.lower()} <= mem[a18_{p.lower()}];
    end
    if (OCE{p}) out_{p.lower()} <= latch_{p.lower()};
  end
  assign {{{_bits(f"DO{p}", 18)}}} = (REGMODE_{p} == "OUTREG") ? out_{p.lower()} : latch_{p.lower()};"""
    return f"""
module DP16KD (
  input {_bits("DIA", 18)},
  input {_bits("ADA", 14)},
  input CEA, OCEA, CLKA, WEA, RSTA, CSA2, CSA1, CSA0,
  output {_bits("DOA", 18)},
  input {_bits("DIB", 18)},
  input {_bits("ADB", 14)},
  input CEB, OCEB, CLKB, WEB, RSTB, CSB2, CSB1, CSB0,
  output {_bits("DOB", 18)}
);
  parameter integer DATA_WIDTH_A = 18;
  parameter integer DATA_WIDTH_B = 18;
  parameter REGMODE_A = "NOREG";
  parameter REGMODE_B = "NOREG";
  parameter RESETMODE = "SYNC";
  parameter ASYNC_RESET_RELEASE = "SYNC";
  parameter CSDECODE_A = "0b000";
  parameter CSDECODE_B = "0b000";
  parameter WRITEMODE_A = "NORMAL";
  parameter WRITEMODE_B = "NORMAL";
  parameter GSR = "ENABLED";
{inits}
  reg [17:0] mem [0:1023];
  integer i;
  initial begin
    if ((DATA_WIDTH_A != 9 && DATA_WIDTH_A != 18) || (DATA_WIDTH_B != 9 && DATA_WIDTH_B != 18) ||
        WRITEMODE_A != "NORMAL" || WRITEMODE_B != "NORMAL" ||
        CSDECODE_A != "0b000" || CSDECODE_B != "0b000") begin
      $display("DP16KD model: unsupported configuration in %m");
      $finish;
    end
{load}
  end
{port["A"]}
{port["B"]}
endmodule
"""


def models_verilog():
    return ("// Behavioural models of ECP5 MULT18X18D and DP16KD (subset; see sim/ecp5_models.py)\n"
            "/* verilator lint_off UNUSEDSIGNAL */\n/* verilator lint_off WIDTHEXPAND */\n"
            "/* verilator lint_off WIDTHTRUNC */\n" + _mult18x18d() + _dp16kd())


def write_models(path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = models_verilog()
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


if __name__ == "__main__":
    print(write_models(sys.argv[1] if len(sys.argv) > 1 else "build/ecp5_models.v"))
