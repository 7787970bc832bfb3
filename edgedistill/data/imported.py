"""A dataset from the user's own code: `data.factory = "package.module:function"`.

The function returns a map-style torch Dataset (`len` + `ds[i]`), or a dict of them with keys
`train` (required), `test` and `unlabeled`. An item is `(x, y)` (labelled) or `x` alone
(unlabelled: it goes to the transfer set). Everything is read into memory once, as every
other source is: fine for the small data sets that on-device students are distilled on.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from ..errors import ConfigError, EdgeDistillError, InputFileError
from .base import Dataset, assemble


@contextmanager
def _users_code(what: str):
    """The user's factory or dataset raising (not our bug, exit 2): one line with its first line and file:line;
    the traceback stays attached for --debug."""
    from ..models.imports import call_failure

    try:
        yield
    except EdgeDistillError:
        raise
    except (Exception, SystemExit) as exc:
        raise ConfigError("recipe", "data.factory", *call_failure(what, exc)) from exc


def _arrays(ds, where: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Every item of a map-style dataset → (x (N, ...), y (N,) or None when the items carry no label)."""
    if not (hasattr(ds, "__len__") and hasattr(ds, "__getitem__")):
        raise InputFileError(where, f"returned a {type(ds).__name__}, not a map-style dataset",
                             "return a torch.utils.data.Dataset with __len__ and __getitem__")
    xs, ys = [], []
    with _users_code(f"len() of what {where!r} returned"):
        n = len(ds)
    for i in range(n):
        with _users_code(f"item {i} of what {where!r} returned"):
            item = ds[i]
        if isinstance(item, tuple | list) and len(item) == 2:
            x, y = item
            ys.append(int(y))
        elif isinstance(item, tuple | list) and len(item) != 1:
            raise InputFileError(where, f"item {i} has {len(item)} parts", "return (x, y) or x")
        else:
            x = item[0] if isinstance(item, tuple | list) else item
        xs.append(np.asarray(x.numpy() if hasattr(x, "numpy") else x))
    if ys and len(ys) != len(xs):
        raise InputFileError(where, "some items carry a label and some do not", "return (x, y) for every item")
    if not xs:
        return np.zeros((0, 1), np.float32), None
    try:
        return np.stack(xs), (np.array(ys) if ys else None)
    except ValueError:
        raise InputFileError(where, "items have different shapes", "return inputs of one shape") from None


def load_imported(cfg, cache_dir) -> Dataset:
    """Call the recipe's data factory and read what it returns into a Dataset."""
    from ..models.imports import ImportSpecError, call_factory, load_callable

    try:
        fn = load_callable(cfg.factory)
    except ImportSpecError as exc:
        raise ConfigError("recipe", "data.factory", *exc.args) from None
    with _users_code(f"calling {cfg.factory!r}"):
        got = call_factory(fn, {}, seed=cfg.seed)
    parts = got if isinstance(got, dict) else {"train": got}
    unknown = set(parts) - {"train", "test", "unlabeled"}
    if unknown or "train" not in parts:
        raise InputFileError(cfg.factory, f"returned a dict with keys {sorted(parts)}",
                             "return a Dataset, or a dict with 'train' and optionally 'test', 'unlabeled'")
    x, y = _arrays(parts["train"], cfg.factory)
    if y is None:
        raise InputFileError(cfg.factory, "the training items carry no labels",
                             "return (x, y) items; unlabelled-only data goes under 'unlabeled' or data.unlabeled")
    x_test = y_test = None
    if "test" in parts:
        x_test, y_test = _arrays(parts["test"], cfg.factory)
        if y_test is None:
            raise InputFileError(cfg.factory, "the test items carry no labels", "return (x, y) items")
    x_unl = _arrays(parts["unlabeled"], cfg.factory)[0] if "unlabeled" in parts else None
    if x_unl is not None and not len(x_unl):
        x_unl = None
    return assemble("import", cfg, cfg.factory, x, y, x_test, y_test, x_unl)
