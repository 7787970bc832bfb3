"""Progress for long work: a rich bar on a terminal, plain log lines otherwise, nothing when quiet.

Stages receive a `Reporter` and never print directly, so `--quiet` and `--json` are honoured
everywhere and tests can run silently.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import time
from contextlib import contextmanager


class Reporter:
    """Writes to stderr: rich progress bars when it is a TTY, one line per update when it is not."""

    def __init__(self, quiet: bool = False, stream=None):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def info(self, message: str) -> None:
        """One line of status ("teacher: reused from cache …")."""
        if not self.quiet:
            print(message, file=self.stream, flush=True)

    def warn(self, message: str) -> None:
        """One line that must not go unnoticed ("warning: …"): shown even with --quiet."""
        print(f"warning: {message}", file=self.stream, flush=True)

    @contextmanager
    def task(self, label: str, total: int, done: int = 0):
        """Context yielding `advance(**fields)`; one call per unit of work (epoch, run, …).
        `done`: units already finished (a resumed run), so the count and rate start there."""
        if self.quiet:
            yield lambda **fields: None
            return
        if not self.tty:
            yield from self._plain(label, total, done)
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TextColumn("{task.fields[status]}"),
                      console=_console(self.stream), transient=False) as bar:
            tid = bar.add_task(label, total=total, completed=done, status="resumed" if done else "")

            def advance(**fields):
                bar.update(tid, advance=1, status=_fmt(fields))

            yield advance

    def _plain(self, label: str, total: int, done: int = 0):
        start = time.perf_counter()
        if done:
            print(f"{label}: resumed at {done}/{total}", file=self.stream, flush=True)

        def advance(**fields):
            nonlocal done
            done += 1
            print(f"{label}: {done}/{total} {_fmt(fields)} ({time.perf_counter() - start:.1f}s)",
                  file=self.stream, flush=True)

        yield advance


def _fmt(fields: dict) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())


def _console(stream):
    from rich.console import Console

    return Console(file=stream)


@contextmanager
def silenced(**env: str):
    """Swallow a library's prints, log warnings and (via `env`, e.g. TQDM_DISABLE="1") its progress bars.

    onnxruntime.quantization warns once per node; coremltools prints tqdm bars and, on Linux, logs
    'Failed to load _MLModelProxy'. Our own Reporter is the only progress a user should see.
    """
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logging.disable(logging.NOTSET)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
