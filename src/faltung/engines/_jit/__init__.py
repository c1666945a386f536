"""Numba kernels of the engines; imported lazily, on first use."""
