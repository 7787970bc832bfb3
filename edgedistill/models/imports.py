"""User code named by an import path, `package.module:function` — an explicit, documented choice.

A recipe can name a factory for a teacher, a student or a dataset. Nothing else in a recipe runs
code: the factory is imported (from the recipe's folder, the current directory or PYTHONPATH) and
called with the keyword arguments its signature asks for.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
import sysconfig
import traceback
from pathlib import Path

SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class ImportSpecError(ValueError):
    """A factory spec that is malformed, cannot be imported or is not callable: (problem, fix)."""


def add_search_path(folder: Path) -> None:
    """Make modules beside a recipe importable; appended, so it never shadows an installed package."""
    for p in (str(Path(folder).resolve()), str(Path.cwd())):
        if p not in sys.path:
            sys.path.append(p)


def load_callable(spec: str):
    """`pkg.mod:attr[.attr]` → the callable it names; ImportSpecError(problem, fix) otherwise."""
    if not SPEC.match(spec):
        raise ImportSpecError(f"{spec!r} is not an import path", 'write "package.module:function"')
    module_name, attr = spec.split(":")
    try:
        obj = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportSpecError(f"cannot import {module_name!r} ({exc.__class__.__name__}: {exc})",
                              "put the module beside the recipe or on PYTHONPATH") from None
    except SyntaxError as exc:  # the user's module does not parse
        raise ImportSpecError(f"{module_name!r} has a syntax error at {exc.filename}:{exc.lineno} ({exc.msg})",
                              "fix that line") from None
    except (Exception, SystemExit) as exc:  # the module's own top-level code raised while importing
        raise ImportSpecError(f"importing {module_name!r} raised {type(exc).__name__}: {first_line(exc)} "
                              f"at {_raise_site(exc) or 'import time'}", "fix the module's top-level code") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            known = [n for n in dir(obj) if not n.startswith("_") and callable(getattr(obj, n))]
            from ..registry import suggest

            raise ImportSpecError(f"{module_name!r} has no attribute {attr!r}", suggest(part, known))
        obj = getattr(obj, part)
    if not callable(obj):
        raise ImportSpecError(f"{spec!r} is not callable", "name a function or class")
    return obj


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (200 characters at most), or "(no message)"."""
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else "(no message)"


def _raise_site(exc: BaseException) -> str:
    """`file:line` of the deepest frame in the user's own code (outside edgedistill, the standard library and
    installed packages; else the deepest outside edgedistill), "" when the traceback shows none."""
    package = str(Path(__file__).resolve().parents[1])
    libraries = tuple({str(Path(sysconfig.get_paths()[k]).resolve())
                       for k in ("stdlib", "platstdlib", "purelib", "platlib")})
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not str(Path(f.filename).resolve()).startswith(package)]
    mine = [f for f in frames if not str(Path(f.filename).resolve()).startswith(libraries)] or frames
    return f"{mine[-1].filename}:{mine[-1].lineno}" if mine else ""


def call_failure(what: str, exc: BaseException) -> tuple[str, str]:
    """(problem, fix) when the user's code raised `exc` while `what` ran: its type, first line and file:line."""
    site = _raise_site(exc)
    return (f"{what} raised {type(exc).__name__}: {first_line(exc)}" + (f" at {site}" if site else ""),
            "fix that code (rerun with --debug for the traceback)")


def call_factory(fn, params: dict, **offered):
    """Call `fn(**params)` plus those `offered` keywords (input_shape, num_classes) its signature accepts."""
    try:
        sig = inspect.signature(fn)
        takes_all = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
        extra = {k: v for k, v in offered.items() if takes_all or k in sig.parameters}
    except (TypeError, ValueError):  # builtins without a signature: pass only the recipe's params
        extra = {}
    return fn(**{**extra, **params})


def module_file_hash(spec: str) -> str:
    """sha256 of the source file that defines a factory ("" when it has none): part of cache keys,
    so editing the user's module invalidates what it trained."""
    from ..artifacts import sha256_path

    module = sys.modules.get(spec.split(":")[0]) or importlib.import_module(spec.split(":")[0])
    path = getattr(module, "__file__", None)
    return sha256_path(Path(path)) if path else ""
