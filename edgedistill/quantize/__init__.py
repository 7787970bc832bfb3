"""Quantizers: file in, file out, with a receipt of how the numbers were chosen."""
