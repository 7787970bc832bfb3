"""The browser runner's child process: Playwright, Chromium and the loopback server live here, not in the parent.

Started by bench/browser_launch.py (spec on stdin, own process group, death with the parent, the
profile's time limit). Prints the page's raw result (task metrics computed, outputs dropped) or
{"error", "cause"}, which the parent turns back into the same exceptions.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import ConfigError, InputFileError, StageError


def main() -> int:
    """Child side: run the page, print one JSON line."""
    from .sandbox import enter

    return _main(enter())


def _main(spec: dict) -> int:
    from ..devices import DeviceProfile
    from .browser import run_page
    from .outcome import NotRunnable
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
    except NotRunnable as exc:  # Chromium could not start on this host
        print(json.dumps({"error": str(exc), "cause": "not_runnable"}))
    except TimeoutError as exc:
        print(json.dumps({"error": str(exc), "cause": "timeout"}))
    except Exception as exc:  # a Playwright or Chromium failure: the parent names the file
        print(json.dumps({"error": first_line(exc), "cause": "run"}))
    return 3


if __name__ == "__main__":
    sys.exit(main())
