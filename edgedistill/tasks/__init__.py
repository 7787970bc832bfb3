"""Task kinds — classify (logits), embed (vectors), lm (per-token distributions): the one place that
knows what a model takes and gives. `metrics` (numpy only) scores a runtime's outputs for each kind."""
