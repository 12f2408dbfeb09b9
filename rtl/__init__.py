"""SkipLSTM gateware (Amaranth 0.5): one ``wiring.Component`` per file, top in ``top.py``."""
