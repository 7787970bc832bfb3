"""After the bench: decide whether the files may ship, and say so to people and to CI.

The flow, in the order a verdict is reached (no import cycles: tests/test_import_cycles.py):

    budgets.py    budgets TOML → frozen Checks (metric, limit, device, level)
    hints.py      what to try when a check fails, fitted to what made the file and what it already is
    gate.py       pure judge: (checks, measurements[, baseline figures, origins]) → Verdict; no I/O
    runfolder.py  read a report.json written by someone else; artifact paths confined to its folder
    baseline.py   the accepted report + its files (relative limits); --update-baseline writes it
    targets.py    `edgedistill gate TARGETS`: a run folder, a saved bench document, or model files
    compare.py    what changed between two reports (`edgedistill report --compare A B`)
    report.py     report.json / report.md of a run (the join of every stage's receipts)
    junit.py      the verdict as JUnit XML for CI test tabs
    ci.py         JUnit, markdown and $GITHUB_STEP_SUMMARY written for `edgedistill gate`
    console.py    terminal tables (full width, unwrapped when stdout is not a terminal)

Nothing here trains, exports or measures except through the bench stage's public functions.
"""
