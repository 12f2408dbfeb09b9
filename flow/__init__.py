"""SkipLSTM tool flows: Verilog generation (``make rtl``), lint, ECP5 synthesis and the board
bitstream. They drive the components of ``rtl`` and the tools; ``rtl`` never imports them."""
