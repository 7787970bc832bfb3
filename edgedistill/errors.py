"""One exception tree; each class carries the exit code the CLI returns for it.

Exit codes (DESIGN.md): 0 pass, 1 a budget failed, 2 bad config or usage,
3 a rejected input file or an unusable output path (disk full, read-only),
4 internal error, 5 an exported file missed its parity tolerance. A failed budget
is a *result* (see release/gate.py), never an exception; so is a parity miss, but
it stops the run (nothing downstream may use the file), hence an exception with
its own exit code.
"""

from __future__ import annotations


class EdgeDistillError(Exception):
    """Base class: an error the CLI prints as one line and exits with `exit_code`."""

    exit_code = 4


class ConfigError(EdgeDistillError):
    """A recipe, budgets, preset or profile file is malformed or inconsistent."""

    exit_code = 2

    def __init__(self, source: str, key: str, problem: str, fix: str = ""):
        self.source, self.key, self.problem, self.fix = source, key, problem, fix
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}" + (f" — {fix}" if fix else ""))


class UsageError(EdgeDistillError):
    """The command line asks for something impossible (e.g. an existing run folder without --force)."""

    exit_code = 2


class InputFileError(EdgeDistillError):
    """A model or data file given to us is unreadable, corrupt or not what it should be."""

    exit_code = 3

    def __init__(self, path: str, problem: str, fix: str = ""):
        self.path = path
        super().__init__(f"{path}: {problem}" + (f" — {fix}" if fix else ""))


class OutputPathError(EdgeDistillError):
    """An output or cache folder cannot take our files: disk full, read-only, no permission (exit 3).

    Raised with nothing half-written left behind (staging folders and temp files are removed)."""

    exit_code = 3

    def __init__(self, path: str, problem: str, fix: str):
        self.path, self.problem, self.fix = path, problem, fix
        super().__init__(f"{path}: cannot write ({problem}) — {fix}")


class StageError(EdgeDistillError):
    """A pipeline stage produced something we refuse to report (e.g. export parity beyond tolerance)."""

    exit_code = 4


class ParityError(StageError):
    """An exported or quantized file misses its preset's parity tolerance: a result (the numbers and a hint),
    not a bug — so not exit 4. Subclass of StageError so callers that recover (QAT, --preset auto) still do."""

    exit_code = 5
