"""The gate verdict as JUnit XML: one <testcase> per check, for CI test-report tools.

- passed check             → testcase with the message in <system-out>
- failed `error` check     → <failure message=…> (CI goes red)
- failed `warn` check      → <skipped message="warning: …"> plus the message in <system-out>:
  test-report tools (GitHub, GitLab, Jenkins) show skipped cases without failing the build,
  which matches `warn` (reported, exit 0).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET


def to_junit(gate: dict, suite: str = "edgedistill.gate") -> str:
    """JUnit XML text for a gate verdict (report.gate_json form)."""
    checks = gate["checks"]
    failed = [c for c in checks if not c["passed"] and c["level"] != "warn"]
    warned = [c for c in checks if not c["passed"] and c["level"] == "warn"]
    root = ET.Element("testsuites", name=suite, tests=str(len(checks)), failures=str(len(failed)))
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(checks)), failures=str(len(failed)),
                       errors="0", skipped=str(len(warned)))
    for c in checks:
        on = f" on {c['device']}" if c["device"] else ""
        case = ET.SubElement(ts, "testcase", classname=f"{suite}.{c['artifact']}",
                             name=f"{c['metric']} {c['limit']}{on} [{c['where']}]")
        if c in failed:
            el = ET.SubElement(case, "failure", message=c["message"], type="BudgetExceeded")
            el.text = c["message"]
        elif c in warned:
            ET.SubElement(case, "skipped", message="warning: " + c["message"])
        ET.SubElement(case, "system-out").text = c["message"]
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
