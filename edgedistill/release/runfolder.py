"""Reading what others wrote: a run folder's report.json, and the artifact files it names, confined to it."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputFileError


def read_report(run_dir: Path) -> dict:
    """report.json of a run folder (or the file itself); a missing or foreign file is exit 3."""
    path = Path(run_dir)
    path = path / "report.json" if path.is_dir() else path
    try:
        rep = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputFileError(str(path), "no report.json here",
                             "pass a run folder written by `edgedistill run`") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(str(path), f"not valid JSON ({exc})") from None
    if not isinstance(rep, dict) or not str(rep.get("schema", "")).startswith("edgedistill.report/"):
        raise InputFileError(str(path), "not an edgedistill report (no 'schema' key)")
    return rep


def report_files(report: dict, folder: Path, where: str) -> dict[str, Path]:
    """artifact name → file, for a report read from disk: every name and path must stay inside `folder`
    (a report from someone else's branch must not make us read or copy /etc/hostname)."""
    from ..artifacts import confined, safe_name

    artifacts = report.get("artifacts") or {}
    if not isinstance(artifacts, dict):
        raise InputFileError(where, "'artifacts' is not a table", "pass a report.json written by edgedistill")
    return {safe_name(n, where): confined(folder, a.get("path", n), where)
            for n, a in artifacts.items() if isinstance(a, dict)}
