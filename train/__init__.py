"""Pruning-aware training (PyTorch, CPU), quantisation through ``golden``, model bundles."""
