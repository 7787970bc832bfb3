"""What each built-in loss compares and whether it reads labels — importable without torch, so a
recipe validates instantly (`edgedistill --help` and recipe checks never import torch).

losses.py registers the functions with exactly these traits.
"""

from __future__ import annotations

PLUGIN_GROUP = "edgedistill.losses"

# name → (compares: "outputs" | "features", uses_labels)
TRAITS: dict[str, tuple[str, bool]] = {
    "hinton_kd": ("outputs", True),
    "dkd": ("outputs", True),
    "cross_entropy": ("outputs", True),
    "hint_mse": ("features", False),
    "attention_transfer": ("features", False),
    "rkd": ("features", False),
    "similarity_preserving": ("features", False),
    "embedding_cosine": ("outputs", False),
    "embedding_mse": ("outputs", False),
    "hidden_mse": ("features", False),
    "attention_mse": ("features", False),
}
# compare coordinates of two named layers (or, hidden_mse / attention_mse, the pairs of a transformer layer map)
NEEDS_LAYERS = frozenset({"hint_mse", "attention_transfer", "hidden_mse", "attention_mse"})
RESPONSE = frozenset({"hinton_kd", "dkd", "cross_entropy", "embedding_cosine", "embedding_mse"})  # main losses


def loss_names() -> list[str]:
    """Built-in losses plus those installed packages publish (entry points are listed, not loaded)."""
    from importlib.metadata import entry_points

    return sorted(set(TRAITS) | {ep.name for ep in entry_points(group=PLUGIN_GROUP)})


def traits(name: str) -> tuple[str, bool]:
    """(compares, uses_labels); a plugin loss is taken as an outputs loss with labels until loaded."""
    return TRAITS.get(name, ("outputs", True))


def compares_labels(name: str) -> bool:
    """True for the class-label response losses (hinton_kd, dkd, cross_entropy, plugin losses)."""
    return traits(name) == ("outputs", True)
