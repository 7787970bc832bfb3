"""The browser runner's child process: Playwright, Chromium and the loopback server live here, not in the parent.

`run_in_child` (parent side) starts `python -m edgedistill.bench._browser_child` through bench/sandbox.py:
spec on stdin, its own process group (so a terminal's Ctrl-C reaches only the parent, which then
kills the group: the Playwright driver and Chromium go with it, no asyncio noise), death with the
parent, and the profile's time limit. The child prints the page's raw result (task metrics computed,
outputs dropped) or {"error", "cause"}, which the parent turns back into the same exceptions.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..artifacts import printable
from ..errors import ConfigError, InputFileError, StageError

KINDS = {"input": InputFileError, "config": ConfigError, "stage": StageError}


def run_in_child(path: Path, profile, data: Path | None, shapes: dict | None, inputs: list[dict],
                 task: str | None) -> dict:
    """The page's raw result for `path` on `profile`, measured in a child under the profile's time limit."""
    from . import sandbox
    from .outcome import DeviceLimitExceeded

    spec = {"model": str(Path(path).resolve()), "profile": profile.model_dump(mode="json"),
            "data": str(Path(data).resolve()) if data else None, "shapes": shapes or {}, "inputs": inputs,
            "task": task}
    # Chromium's address-space reservations are PROT_NONE (not counted by RLIMIT_DATA); the ceiling
    # keeps a page that really allocates tens of GB from taking the machine
    limits = sandbox.Limits(sandbox.host_ceiling(), profile.constraints.time_limit_s + 30, "the host default")
    child = sandbox.run("edgedistill.bench._browser_child", spec, limits)
    out = child.out
    if child.timed_out or out.get("cause") == "timeout":
        raise DeviceLimitExceeded(f"did not finish within the {profile.name} time limit of "
                                  f"{profile.constraints.time_limit_s:g} s (constraints.time_limit_s); killed")
    if "error" in out:
        _raise(out, path)
    return out


def _raise(out: dict, path: Path) -> None:
    cause, text = out.get("cause"), printable(out.get("error", "no output"))
    if cause == "config":
        raise ConfigError(out.get("source", ""), out.get("key", ""), text)
    if cause == "stage":
        raise StageError(text)
    if cause == "input":
        raise InputFileError(out.get("path") or str(path), text)
    raise InputFileError(str(path), f"the browser runner failed on it: {text}")


def main() -> int:
    """Child side: run the page, print one JSON line."""
    from .sandbox import enter

    return _main(enter())


def _main(spec: dict) -> int:
    from ..devices import DeviceProfile
    from .browser import run_page
    from .sandbox import first_line

    try:
        raw = run_page(Path(spec["model"]), DeviceProfile.model_validate(spec["profile"]),
                       Path(spec["data"]) if spec["data"] else None, spec["shapes"], spec["inputs"], spec["task"])
        raw.pop("outputs", None)
        print(json.dumps(raw), flush=True)
        return 0
    except InputFileError as exc:
        print(json.dumps({"error": str(exc).removeprefix(f"{exc.path}: "), "path": exc.path, "cause": "input"}))
    except ConfigError as exc:
        print(json.dumps({"error": exc.problem + (f" — {exc.fix}" if exc.fix else ""), "source": exc.source,
                          "key": exc.key, "cause": "config"}))
    except StageError as exc:
        print(json.dumps({"error": str(exc), "cause": "stage"}))
    except TimeoutError as exc:
        print(json.dumps({"error": str(exc), "cause": "timeout"}))
    except Exception as exc:  # a Playwright or Chromium failure: the parent names the file
        print(json.dumps({"error": first_line(exc), "cause": "run"}))
    return 3


if __name__ == "__main__":
    sys.exit(main())
