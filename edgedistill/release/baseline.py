"""Baselines: a folder holding an accepted report.json plus the artifact files it names.

Relative limits need both halves: the report's figures (sizes) and the files themselves
(latency is judged by timing the new file against the baseline's file, interleaved, on this
machine — never by comparing absolute times recorded elsewhere).

`--update-baseline DIR` writes the folder atomically (staging folder, then rename). It refuses
to replace an existing baseline holding different files unless forced, and it writes only after
a passing gate unless forced: a baseline is what was accepted, so accepting must be deliberate.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from ..artifacts import atomic_write_json, safe_name, sha256_path
from ..errors import InputFileError, UsageError


@dataclass(frozen=True)
class Baseline:
    folder: Path
    report: dict
    figures: dict  # (artifact, device, metric) → Figure

    files: dict  # artifact name → its copy in the folder (names and paths confined to the folder)

    def file(self, artifact: str) -> Path | None:
        """The baseline's copy of `artifact`, or None when the baseline does not hold that file."""
        path = self.files.get(artifact)
        return path if path is not None and path.exists() else None


def load_baseline(path: Path) -> Baseline:
    """A baseline folder (or its report.json); a missing or foreign report is a rejected input (exit 3)."""
    from ..results import index
    from .runfolder import figures_of, read_report, report_files

    path = Path(path)
    if not (path / "report.json" if path.is_dir() else path).exists():
        raise InputFileError(str(path), "no baseline here (no report.json)",
                             "create one with `edgedistill gate --budgets … FILES --update-baseline DIR --force`")
    report = read_report(path)
    folder = path if path.is_dir() else path.parent
    files = report_files(report, folder, str(path))
    return Baseline(folder, report, index(figures_of(report, str(path))), files)


def update_baseline(dest: Path, report: dict, files: dict[str, Path], passed: bool, force: bool) -> str:
    """Write `report` and copies of `files` (artifact name → path) into `dest`; return what happened."""
    dest = Path(dest)
    for name, src in files.items():  # names become file names in `dest`: checked before anything is written
        safe_name(name, "report.json artifacts")
        if Path(src).is_symlink():
            raise InputFileError(str(src), "is a symbolic link", "a baseline holds copies of regular files")
    if not passed and not force:
        raise UsageError(f"not updating the baseline {dest}: the gate failed — fix the failures, or pass --force "
                         f"to accept this run anyway")
    shas = {name: sha256_path(p) for name, p in files.items() if Path(p).exists()}
    if (dest / "report.json").exists():
        old = _shas(dest)
        if old == shas:
            return f"baseline {dest} already holds these files (unchanged)"
        if not force:
            changed = sorted(n for n in set(old) | set(shas) if old.get(n) != shas.get(n))
            raise UsageError(f"{dest} holds a different baseline ({', '.join(changed)} differ) — pass --force to "
                             f"replace it, or choose another folder")
    elif dest.exists() and any(dest.iterdir()):
        raise UsageError(f"{dest} exists and is not a baseline folder — choose an empty or new folder")
    from ..staging import claim_staging

    staging = claim_staging(dest)
    try:
        artifacts = {}
        for name, src in files.items():
            if name not in shas:
                continue
            # symlinks=True: a link inside an .mlpackage is copied as a link, never followed out of it
            if Path(src).is_dir():
                shutil.copytree(src, staging / name, symlinks=True)
            else:
                shutil.copy2(src, staging / name)
            entry = dict(report.get("artifacts", {}).get(name, {}))
            artifacts[name] = {**entry, "name": name, "path": name, "sha256": shas[name]}
        atomic_write_json(staging / "report.json", {**report, "artifacts": artifacts})
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    from ..pipeline import publish

    publish(staging, dest, force=True)
    return f"baseline written to {dest} ({len(artifacts)} files)"


def _shas(folder: Path) -> dict[str, str]:
    """artifact name → sha256 recorded in an existing baseline's report.json."""
    from .runfolder import read_report

    arts = read_report(folder).get("artifacts", {})
    return {n: a.get("sha256", "") for n, a in arts.items() if isinstance(a, dict)}
