"""Reading what others wrote: a run's report.json or a saved bench document, and the files a report names.

Both come from anyone's branch or CI artifact, so nothing read here is trusted: names must be
plain file names, paths stay inside the folder, and a malformed entry is a rejected input (exit 3)
naming the file and the key, never a traceback.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..errors import InputFileError
from ..results import HOW, Figure, Measurement

REPORT, BENCH = "edgedistill.report/", "edgedistill.bench/"


def read_document(path: Path, accepted: tuple[str, ...] = (REPORT, BENCH)) -> dict:
    """A report.json (a run folder or the file itself) or a bench document; anything else is exit 3."""
    path = Path(path)
    path = path / "report.json" if path.is_dir() else path
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputFileError(str(path), "no such file" if path.name != "report.json" else "no report.json here",
                             "pass a run folder written by `edgedistill run`"
                             + (", or the --json of `edgedistill bench`" if BENCH in accepted else "")) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(str(path), f"not valid JSON ({exc})") from None
    schema = str(doc.get("schema", "")) if isinstance(doc, dict) else ""
    if not schema.startswith(accepted):
        what = " or ".join(f"{a}1" for a in accepted)
        raise InputFileError(str(path), f"not an edgedistill document (schema {schema or 'missing'!r}, "
                                        f"expected {what})",
                             "pass a run folder, its report.json, or the --json of `edgedistill bench`")
    return doc


def read_report(run_dir: Path) -> dict:
    """report.json of a run folder (or the file itself); a missing or foreign file is exit 3."""
    return read_document(run_dir, (REPORT,))


def measurements_in(doc: dict, where: str) -> list[Measurement]:
    """The `measurements` rows of a report or bench document, each checked (exit 3 names the bad row)."""
    rows = doc.get("measurements")
    if not isinstance(rows, list):
        raise InputFileError(where, "'measurements' is missing or not a list", "pass a file written by edgedistill")
    return [_measurement(row, f"{where}: measurements[{i}]") for i, row in enumerate(rows)]


def figures_of(doc: dict, where: str) -> list[Measurement]:
    """Every figure a report read from disk holds: its measurements, and its parity section as figures."""
    from .report import parity_measurements

    try:
        parity = parity_measurements(doc.get("parity") or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise InputFileError(where, f"malformed 'parity' section ({type(exc).__name__}: {exc})",
                             "pass a report.json written by edgedistill") from None
    return measurements_in(doc, where) + [_measurement(m.to_json(), f"{where}: parity") for m in parity]


def _measurement(row, where: str) -> Measurement:
    from ..artifacts import printable, safe_name

    if not isinstance(row, dict):
        raise InputFileError(where, "not a table")
    value, device = row.get("value"), row.get("device")
    problem = ("'value' is not a finite number" if isinstance(value, bool) or not isinstance(value, (int, float))
               or not math.isfinite(value) else
               "'metric' is not a name" if not isinstance(row.get("metric"), str) or not row["metric"].isidentifier()
               else "'unit' is not text" if not isinstance(row.get("unit"), str) else
               f"'how' must be one of {', '.join(HOW)}" if row.get("how", "measured") not in HOW else
               "'device' is not a profile name" if device is not None and not _plain(device) else "")
    if problem:
        raise InputFileError(where, problem, "pass a file written by edgedistill")
    name = safe_name(row.get("artifact"), where)
    return Measurement(name, device, row["metric"], Figure(float(value), printable(row["unit"]),
                                                            row.get("how", "measured")))


def _plain(name) -> bool:
    return isinstance(name, str) and bool(name) and all(c.isalnum() or c in "-_." for c in name)


def report_files(report: dict, folder: Path, where: str) -> dict[str, Path]:
    """artifact name → file, for a report read from disk: every name and path must stay inside `folder`
    (a report from someone else's branch must not make us read or copy /etc/hostname)."""
    from ..artifacts import confined, safe_name

    artifacts = report.get("artifacts") or {}
    if not isinstance(artifacts, dict):
        raise InputFileError(where, "'artifacts' is not a table", "pass a report.json written by edgedistill")
    return {safe_name(n, where): confined(folder, a.get("path", n), where)
            for n, a in artifacts.items() if isinstance(a, dict)}
