"""edgedistill: distil a large teacher into a small on-device student, export it, bench it, gate it.

The public API is imported lazily, so `import edgedistill` (and `edgedistill --help`) never
imports torch or coremltools.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "run",
    "load_recipe",
    "Recipe",
    "load_budgets",
    "judge",
    "Verdict",
    "Figure",
    "Measurement",
    "load_profile",
    "load_preset",
    "EdgeDistillError",
]

_LAZY = {
    "run": ("pipeline", "run"),
    "load_recipe": ("recipe", "load_recipe"),
    "Recipe": ("recipe", "Recipe"),
    "load_budgets": ("release.budgets", "load_budgets"),
    "judge": ("release.gate", "judge"),
    "Verdict": ("release.gate", "Verdict"),
    "Figure": ("results", "Figure"),
    "Measurement": ("results", "Measurement"),
    "load_profile": ("devices", "load_profile"),
    "load_preset": ("export.presets", "load_preset"),
    "EdgeDistillError": ("errors", "EdgeDistillError"),
}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        module, attr = _LAZY[name]
        return getattr(import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'edgedistill' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
