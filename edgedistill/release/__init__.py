"""After the bench: decide whether the files may ship, and say so to people and to CI.

The flow, one way (each module imports only those above it):

    budgets.py    budgets TOML → frozen Checks (metric, limit, device, level)
    gate.py       pure judge: (checks, measurements[, baseline figures]) → Verdict; no I/O
    runfolder.py  read a report.json written by someone else; artifact paths confined to its folder
    baseline.py   the accepted report + its files (relative limits); --update-baseline writes it
    targets.py    `edgedistill gate TARGETS`: a run folder, a saved bench document, or model files
    compare.py    what changed between two reports (`edgedistill report --compare A B`)
    report.py     report.json / report.md of a run (the join of every stage's receipts)
    junit.py      the verdict as JUnit XML for CI test tabs
    console.py    terminal tables (full width, unwrapped when stdout is not a terminal)

Nothing here trains, exports or measures except through the bench stage's public functions.
"""
