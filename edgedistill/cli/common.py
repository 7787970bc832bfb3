"""What the commands share: exit codes, the verdict → exit mapping, --shape parsing."""

from __future__ import annotations

from ..errors import UsageError

EXIT_PASS, EXIT_BUDGET, EXIT_CONFIG, EXIT_INPUT, EXIT_INTERNAL, EXIT_PARITY = 0, 1, 2, 3, 4, 5


def parse_shapes(items) -> dict[str, list[int]]:
    """`--shape NAME=1x3x224x224` options → {NAME: [1, 3, 224, 224]}; a malformed one is a UsageError."""
    out = {}
    for item in items:
        name, _, dims = item.partition("=")
        try:
            out[name] = [int(d) for d in dims.lower().split("x")]
        except ValueError:
            raise UsageError(f"--shape {item!r}: write NAME=1x3x224x224") from None
        if not name or min(out[name]) < 1:  # a batch of 0 rows "measures" an empty run at 0 samples/s
            raise UsageError(f"--shape {item!r}: write NAME=1x3x224x224, every size at least 1")
    return out


def verdict_exit(gate: dict | None) -> int:
    """The exit code of a gate verdict: 0 when it passed (or there was none), 1 when a budget failed."""
    return EXIT_PASS if gate is None or gate["passed"] else EXIT_BUDGET
