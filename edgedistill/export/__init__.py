"""Exporters (ONNX, Core ML), their presets, and parity checks against the torch student."""
