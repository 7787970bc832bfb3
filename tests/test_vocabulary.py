"""Issue 12: the word "kind" means one thing in the package — an artifact's file kind (`Artifact.kind`:
onnx, ort, coreml, safetensors, …). Anything else says what it is: a task, a cause, a format, a type."""

from __future__ import annotations

import re

from conftest import ROOT

PACKAGE = ROOT / "edgedistill"
# numpy's dtype.kind and argsort(kind=…), inspect's Parameter.kind: other libraries' names, not our word
LIBRARY = re.compile(r"dtype\.kind|\bdt\.kind|\bp\.kind is p\.VAR_KEYWORD|argsort\([^)]*kind=")
# where kind is Artifact.kind, the file's kind
FILE_KIND = {"artifacts.py", "export/ranking.py", "bench/stage.py", "release/targets.py", "standalone.py"}
PENDING: set[str] = set()  # files still to rename (none: the bench children's errors say "cause")


def test_kind_means_an_artifacts_file_kind_only():
    found = []
    for path in sorted(PACKAGE.rglob("*")):
        rel = path.relative_to(PACKAGE).as_posix()
        if path.suffix not in (".py", ".toml") or rel in FILE_KIND | PENDING:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\bkind\b", LIBRARY.sub("", line), re.IGNORECASE):
                found.append(f"{rel}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


def test_compare_names_a_changes_type_not_its_kind():
    from edgedistill.release.compare import compare

    run = {"measurements": [{"artifact": "m.onnx", "device": None, "metric": "size", "value": 10.0, "unit": "B"}]}
    (row,) = compare(run, run)["rows"]
    assert row["change"] == {"type": "ratio", "value": 1.0, "unit": "×"}
