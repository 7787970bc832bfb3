"""Where the shipped data lives: recipes inside the package, presets and profiles beside it.

In a source checkout (and an editable install) `exporters/` and `devices/` sit at the top of
the repository; a built wheel carries them as `edgedistill/_data/{exporters,devices}`.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The shipped folder `name` ("exporters" or "devices"): wheel copy first, then the checkout."""
    for candidate in (PACKAGE / "_data" / name, PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"edgedistill data folder {name!r} is missing from this install")


def recipes_dir() -> Path:
    """Built-in recipes (and their budgets files)."""
    return PACKAGE / "recipes"


def default_cache_dir() -> Path:
    """Cache for generated data and trained teachers: $EDGEDISTILL_CACHE, else XDG, else ~/.cache."""
    import os

    if os.environ.get("EDGEDISTILL_CACHE"):
        return Path(os.environ["EDGEDISTILL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edgedistill"
