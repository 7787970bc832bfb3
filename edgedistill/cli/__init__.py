"""Command line: run | distill | bench | gate | report | export | devices | presets.

Exit codes: 0 pass, 1 a budget failed, 2 bad config or usage, 3 a rejected input file,
4 internal error, 5 an exported file missed its parity tolerance (a result, with the numbers
and a hint), 130 interrupted (Ctrl-C), 143 stopped by SIGTERM. Errors are one line on stderr; --debug adds
the traceback.
Heavy modules (torch, onnxruntime, coremltools) are imported inside commands only. This module holds
the group and `main()`; each command family is a module of this package (train: run, distill; bench;
gate; report; export; listings: devices, presets), its shared helpers are in `common`.
"""

from __future__ import annotations

import sys

import click

from ..errors import EdgeDistillError, ParityError
from . import bench, export, gate, listings, report, train
from .common import EXIT_BUDGET, EXIT_CONFIG, EXIT_INPUT, EXIT_INTERNAL, EXIT_PARITY, EXIT_PASS

__all__ = ["EXIT_BUDGET", "EXIT_CONFIG", "EXIT_INPUT", "EXIT_INTERNAL", "EXIT_PARITY", "EXIT_PASS", "cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="edgedistill")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx, debug):
    """Distil a teacher into an on-device student, export it, benchmark it, gate the release.

    \b
    edgedistill run                      the default recipe (mnist1d), end to end
    edgedistill bench model.onnx         measure any ONNX file on host-cpu
    edgedistill gate --budgets b.toml runs/mnist1d-…   judge a run against budgets

    \b
    Exit codes: 0 pass · 1 a budget failed · 2 bad config or usage · 3 a rejected input file
    · 4 internal error · 5 an exported file missed its parity tolerance · 130 Ctrl-C · 143 SIGTERM
    """
    ctx.obj = {"debug": debug}


for _command in (train.run, train.distill, bench.bench, gate.gate, report.report, export.export_cmd,
                 listings.devices, listings.presets):
    cli.add_command(_command)


class Terminated(BaseException):
    """SIGTERM (a cancelled CI job), raised in the main thread so it unwinds like Ctrl-C: every
    `except BaseException` / `finally` on the way removes what it staged (pipeline, baseline, exports)."""


def _on_sigterm(signum, frame):
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
    raise Terminated()


STOPPED = ("what it was writing was removed; rerun the same command to start again (`run` and `distill`: "
           "add --resume --out DIR to continue from the last training checkpoint)")


def main(argv=None) -> None:
    """Entry point: run the CLI and map every outcome to the documented exit code."""
    import signal
    import threading

    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = cli.main(args=argv, prog_name="edgedistill", standalone_mode=False)
    except click.exceptions.Exit as exc:  # --help, --version
        code = exc.exit_code
    except click.ClickException as exc:  # usage errors: click's message, exit 2
        exc.show()
        code = EXIT_CONFIG
    except click.exceptions.Abort:  # Ctrl-C (click turns KeyboardInterrupt into Abort)
        click.echo(f"edgedistill: interrupted — {STOPPED}", err=True)
        code = 130
    except Terminated:
        click.echo(f"edgedistill: stopped by SIGTERM — {STOPPED}", err=True)
        code = 143
    except EdgeDistillError as exc:
        if debug:
            raise
        # a parity miss is a result (numbers + hint), not an error of the user or of edgedistill
        click.echo(f"edgedistill: {'FAIL' if isinstance(exc, ParityError) else 'error'}: {exc}", err=True)
        code = exc.exit_code
    except Exception as exc:  # a bug: say so in one line, keep the traceback for --debug
        if debug:
            raise
        click.echo(f"edgedistill: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the "
                   f"traceback)", err=True)
        code = EXIT_INTERNAL
    sys.exit(code or 0)
