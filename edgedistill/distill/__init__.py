"""Distillation: losses (registered by name) and the training loop."""
