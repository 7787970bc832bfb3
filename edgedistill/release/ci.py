"""The gate's machine outputs for CI: JUnit XML, a markdown summary, and the GitHub Actions step summary."""

from __future__ import annotations

import os
from pathlib import Path

from ..artifacts import atomic_write_text
from .junit import to_junit
from .report import gate_markdown


def write_ci_outputs(payload: dict, junit: Path | None, markdown_file: Path | None) -> None:
    """JUnit XML and markdown where asked; the markdown also appended to $GITHUB_STEP_SUMMARY when set."""
    if junit is not None:
        atomic_write_text(junit, to_junit(payload))
    text = "\n".join(gate_markdown(payload))
    if markdown_file is not None:
        atomic_write_text(markdown_file, text)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as fh:  # appended: other steps share it
            fh.write(text + "\n")
