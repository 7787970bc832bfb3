"""The char-LM run's report.json, report.md and terminal tables.

Same schema family as the classifier report (`edgedistill.report/1`: recipe, environment, artifacts,
parity, measurements, bench, gate) plus an `lm` section holding the perplexity table, so the
bench/gate tooling reads a char-LM run folder like any other. Every figure is measured on this host.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..artifacts import atomic_write_json, atomic_write_text
from ..release.report import SCHEMA, comparison_tables
from ..results import Figure

HEADER = ["model", "params", "val perplexity", "nats/char", "vs scratch", "epochs", "steps", "time"]
LABELS = {"teacher": "teacher", "scratch": "student: scratch", "word": "student: word-level",
          "sequence": "student: sequence-level"}
LEGEND = ("scratch: cross-entropy on the real text · word-level: hinton_kd on the teacher's per-character "
          "distributions over the real text · sequence-level: cross-entropy on text the teacher wrote")


def build(recipe, recipe_file: Path, trained, artifacts: dict, parity: dict, bench, root: Path) -> dict:
    """Assemble report.json from the training results, artifact receipts, parity and bench run."""
    from ..hostinfo import cpu, versions

    def model_json(r, **extra):
        return {**r.to_json(), "val_perplexity": Figure(r.val_perplexity, "").to_json(),
                "seconds": Figure(r.seconds, "s").to_json(), **extra}

    res = trained.results
    scratch = res["scratch"].val_perplexity
    return {
        "schema": SCHEMA, "kind": "charlm",
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "recipe": {"name": recipe.name, "file": str(recipe_file), "hash": recipe.section_hash(),
                   "config": recipe.model_dump(mode="json")},
        "environment": {"cpu": cpu(), "versions": versions("edgedistill", "torch", "onnx", "onnxruntime", "numpy")},
        "lm": {
            "corpus": trained.corpus.describe(), "generated": trained.generated, "shipped": recipe.export.student,
            "teacher": model_json(trained.teacher_result, cached=trained.teacher_cached),
            "students": {k: model_json(r) for k, r in res.items()},
            # relative change of validation perplexity vs the scratch student (negative: better)
            "vs_scratch": {k: (r.val_perplexity - scratch) / scratch for k, r in res.items() if k != "scratch"},
            "params_ratio": trained.teacher_result.params / res["scratch"].params,
        },
        "artifacts": {a.name: a.to_json(root) for a in artifacts.values()},
        "parity": parity,
        "measurements": [m.to_json() for m in bench.measurements] if bench else [],
        "bench": bench.section() if bench else None,
        "gate": None,
    }


def perplexity_rows(lm: dict) -> list[list[str]]:
    """Teacher, then scratch, word-level, sequence-level: the rows of the perplexity table."""
    t = lm["teacher"]
    rows = [(LABELS["teacher"] + (" (cached)" if t["cached"] else ""), t, "")]
    rows += [(LABELS.get(k, k), s, "" if k == "scratch" else f"{100 * lm['vs_scratch'][k]:+.1f}%")
             for k, s in lm["students"].items()]
    return [[name, f"{m['params']:,}", f"{m['val_perplexity']['value']:.3f}", f"{m['val_loss']:.4f}", vs,
             str(m["epochs"]), str(m["steps"]), f"{m['seconds']['value']:.1f} s"] for name, m, vs in rows]


def summary(lm: dict) -> str:
    """One sentence: corpus, how much text the teacher wrote, which student ships."""
    c, g = lm["corpus"], lm["generated"]
    return (f"Corpus: pydoc_data topics ({c['train_chars']:,} training / {c['val_chars']:,} validation characters, "
            f"split by contiguous blocks; sha256 {c['sha256'][:12]}). The teacher wrote {g['chars']:,} characters "
            f"({g['sequences']} samples at temperature {g['temperature']}, each after a {g['prompt_chars']}-character "
            f"real prompt) in {g['seconds']:.1f} s. Shipped student: {lm['shipped']}; the teacher has "
            f"{lm['params_ratio']:.0f}× its parameters.")


def markdown(report: dict) -> str:
    """report.md: the perplexity table, the teacher's data, the ONNX file's parity and benchmarks."""
    from ..bench.render import status_markdown

    lm = report["lm"]
    lines = [f"# edgedistill run: {report['recipe']['name']} (char-level LM)", "",
             f"Created {report['created']} · recipe hash `{report['recipe']['hash'][:12]}` · "
             f"CPU {report['environment']['cpu']['model']}", "",
             "All figures are **measured** on this host. Perplexity = exp(mean cross-entropy per character) over "
             "every predicted character of the held-out validation text.", "",
             "## Validation perplexity", "", _md_row(HEADER), "|---|" + "---:|" * (len(HEADER) - 1)]
    lines += [_md_row(r) for r in perplexity_rows(lm)] + ["", LEGEND + ".", "", summary(lm), ""]
    for name, p in report["parity"].items():
        lines += ["## Parity with the torch model", "",
                  f"- `{name}`: max |Δ logit| {p['max_abs_diff']['value']:.3g}, top-1 agreement "
                  f"{p['top1_agreement']['value']:.2f}% ({p['runtime']}, {p['positions']} positions)", ""]
    for device, (header, rows) in comparison_tables(report).items():
        lines += [f"## Student on {device}", "", _md_row(header), "|---|" + "---:|" * (len(header) - 1)]
        lines += [_md_row(r) for r in rows] + [""]
    lines += status_markdown(report.get("bench"))
    lines += ["Teacher samples (prompt in brackets): `teacher-samples.txt`.", ""]
    return "\n".join(lines) + "\n"


def write(folder: Path, report: dict) -> None:
    """report.json and report.md, atomically."""
    atomic_write_json(folder / "report.json", report)
    atomic_write_text(folder / "report.md", markdown(report))


def print_run(report: dict, out: Path) -> None:
    """Terminal: the perplexity table, the bench table, the run folder."""
    from ..release.console import _console, _table, print_bench_statuses

    con = _console()
    con.print(_table("Validation perplexity (measured; lower is better)", HEADER, perplexity_rows(report["lm"])))
    con.print(LEGEND)
    con.print(summary(report["lm"]))
    for device, (header, rows) in comparison_tables(report).items():
        con.print(_table(f"Student on {device}", header, rows))
    print_bench_statuses(report.get("bench"))
    con.print(f"run folder: {out}  (report.json, report.md)")


def _md_row(cells) -> str:
    return "| " + " | ".join(cells) + " |"
