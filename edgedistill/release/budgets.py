"""Budgets file: a flat list of `[[check]]` tables, size-limit style, parsed into frozen Checks.

    [[check]]
    artifact = "student-int8-qdq.onnx"
    device   = "host-cpu"          # omit for size metrics
    metric   = "p90_ms"
    limit    = "5 ms"             # or "+5%": relative to the baseline (size and p50/p90/p99 only)
    level    = "error"             # or "warn": reported, never fails

Limits carry units, converted here to the unit the measurements use (B, ms, %, samples/s, ×).
A relative limit is stored as a factor (1.05 for "+5%"); the gate resolves it against the baseline:
sizes against the baseline report's figure, latencies against the interleaved A/B ratio.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .. import config
from ..config import Frozen
from ..errors import ConfigError
from ..registry import suggest
from ..results import DEVICE_INDEPENDENT

# metric → (unit family, "max" = limit is an upper bound / "min" = a lower bound)
_BOUNDS: dict[str, tuple[str, str]] = {
    "size": ("bytes", "max"),
    "gzip_size": ("bytes", "max"),
    "brotli_size": ("bytes", "max"),
    "session_create_ms": ("time", "max"),
    "first_run_ms": ("time", "max"),
    "p50_ms": ("time", "max"),
    "p90_ms": ("time", "max"),
    "p99_ms": ("time", "max"),
    "throughput": ("rate", "min"),
    "peak_memory": ("bytes", "max"),
    "accuracy": ("percent", "min"),
    "accuracy_drop": ("points", "max"),  # teacher accuracy − artifact accuracy, same device
    "agreement": ("percent", "min"),  # top-1 agreement with the teacher
    # exported file vs its torch model on the test set (report.json `parity`), device-independent
    "parity_max_abs_diff": ("logit", "max"),
    "parity_cosine": ("cosine", "min"),
    "parity_agreement": ("percent", "min"),
    # task metrics measured through the runtime (tasks/metrics.py): lm and embed
    "perplexity": ("perplexity", "max"),
    "cosine": ("cosine", "min"),
    "nn_overlap": ("percent", "min"),
    "spearman": ("rho", "min"),
    "knn_accuracy": ("percent", "min"),  # embed probes (tasks/probes.py)
    "fewshot_accuracy": ("percent", "min"),
    # text models in the page (bench/browser.py): the page's tokenizer vs Python's ids, tokenise + infer
    "tokenizer_parity": ("percent", "min"),
    "text_p50_ms": ("time", "max"),
    "tokenize_ms": ("time", "max"),
    "tokenizer_load_ms": ("time", "max"),
    # new / old median latency from an interleaved A/B run against the baseline's file
    "latency_ratio": ("ratio", "max"),
    "latency_ratio_p90": ("ratio", "max"),
    "latency_ratio_p99": ("ratio", "max"),
}
# metrics that accept a relative limit ("+5%"): sizes (vs the baseline's figure) and latencies
# (vs the A/B ratio metric named here, measured against the baseline's file)
RELATIVE: dict[str, str | None] = {"size": None, "gzip_size": None, "brotli_size": None,
                                   "p50_ms": "latency_ratio", "p90_ms": "latency_ratio_p90",
                                   "p99_ms": "latency_ratio_p99"}
# metric → (unit family, bound, whether a check on it must name a device)
METRICS: dict[str, tuple[str, str, bool]] = {m: (fam, bound, m not in DEVICE_INDEPENDENT)
                                             for m, (fam, bound) in _BOUNDS.items()}

_UNITS: dict[str, dict[str, float]] = {  # family → unit → factor to the measurement unit
    "bytes": {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3},
    "time": {"us": 1e-3, "µs": 1e-3, "ms": 1, "s": 1e3},
    "percent": {"%": 1},
    "points": {"pp": 1, "%": 1},
    "rate": {"/s": 1, "samples/s": 1},
    "logit": {"": 1, "logit": 1},
    "cosine": {"": 1},
    "ratio": {"×": 1, "x": 1, "": 1},
    "perplexity": {"": 1, "ppl": 1},
    "rho": {"": 1, "rho": 1},
}
_LIMIT = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([^\s0-9].*?)?\s*$")
_RELATIVE = re.compile(r"^\s*\+\s*([0-9]*\.?[0-9]+)\s*%\s*$")


class _CheckRow(Frozen):
    artifact: str
    metric: str
    limit: str
    device: str | None = None
    level: Literal["error", "warn"] = "error"


@dataclass(frozen=True)
class Check:
    artifact: str
    device: str | None
    metric: str
    limit: float  # in the measurement's unit
    limit_text: str  # as written, for messages
    level: str
    where: str  # "budgets.toml:14"
    relative: bool = False  # limit is a factor of the baseline (1.05 for "+5%")

    @property
    def upper(self) -> bool:
        """True when the limit is a maximum (size, latency, memory, drop)."""
        return METRICS[self.metric][1] == "max"


def parse_limit(text: str, metric: str, where: str) -> float:
    """"32 kB" → 32000.0 (bytes) for a size metric; errors name the allowed units."""
    family = METRICS[metric][0]
    allowed = _UNITS[family]
    m = _LIMIT.match(text)
    unit = (m.group(2) or "").strip() if m else ""
    if not m or unit not in allowed:
        raise ConfigError(where, "limit", f"{text!r} is not a {family} limit for {metric}",
                          f"write a number and one of: {', '.join(allowed)} (e.g. '5 {next(iter(allowed))}')")
    return float(m.group(1)) * allowed[unit]


def parse_relative(text: str, metric: str, where: str) -> float | None:
    """"+5%" → 1.05 (a factor of the baseline); None when `text` is not a relative limit."""
    m = _RELATIVE.match(text)
    if m is None:
        return None
    if metric not in RELATIVE:
        raise ConfigError(where, "limit", f"a relative limit ({text!r}) cannot apply to {metric}",
                          f"relative limits work for {', '.join(RELATIVE)}; write an absolute limit")
    return 1 + float(m.group(1)) / 100


def load_budgets(path: Path, known_devices: list[str]) -> list[Check]:
    """Parse and validate a budgets file into Checks (exit 2 on any problem, naming the line)."""
    path = Path(path)
    data = config.read_toml(path)
    rows = data.get("check")
    for key in data:
        if key != "check":
            raise ConfigError(str(path), key, "unknown top-level key", "did you mean 'check'? a budgets file "
                              "holds only [[check]] tables")
    if not isinstance(rows, list) or not rows:
        raise ConfigError(str(path), "check", "a budgets file is a list of [[check]] tables and nothing else",
                          'add [[check]] tables with artifact, metric and limit (see the README)')
    lines = _check_lines(path)
    checks = []
    for i, raw in enumerate(rows):
        where = f"{path}:{lines[i]}" if len(lines) == len(rows) else f"{path}: check[{i}]"
        row = config.validate(_CheckRow, raw if isinstance(raw, dict) else {}, where)
        checks.append(_check(row, where, known_devices))
    return checks


def _check(row: _CheckRow, where: str, known_devices: list[str]) -> Check:
    if row.metric not in METRICS:
        raise ConfigError(where, "metric", f"unknown metric {row.metric!r}", suggest(row.metric, METRICS))
    if METRICS[row.metric][2] and row.device is None:
        raise ConfigError(where, "device", f"metric {row.metric} depends on the device",
                          f"add device = one of {', '.join(known_devices)}")
    if row.device is not None and row.device not in known_devices:
        raise ConfigError(where, "device", f"unknown device {row.device!r}", f"known: {', '.join(known_devices)}")
    factor = parse_relative(row.limit, row.metric, where)
    if factor is not None:
        return Check(row.artifact, row.device, row.metric, factor, row.limit, row.level, where, relative=True)
    return Check(row.artifact, row.device, row.metric, parse_limit(row.limit, row.metric, where),
                 row.limit, row.level, where)


def require_baseline(checks: list[Check], baseline) -> None:
    """A relative check with no baseline to compare against is a usage mistake (exit 2), named by line."""
    for c in checks:
        if c.relative and baseline is None:
            raise ConfigError(c.where, "limit", f"relative limit {c.limit_text!r} needs a baseline",
                              "pass --baseline DIR (a folder written by `edgedistill gate --update-baseline`), "
                              "or write an absolute limit")


_HEADER = re.compile(r"^\s*\[\[\s*check\s*\]\]")


def _check_lines(path: Path) -> list[int]:
    """1-based line numbers of each `[[check]]` header, in order (tomllib gives no positions)."""
    text = path.read_text(encoding="utf-8").splitlines()
    return [n for n, line in enumerate(text, 1) if _HEADER.match(line)]
