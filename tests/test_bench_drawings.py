"""course_tools.bench.drawings: the large-drawing rows of the benchmark run and read as a table."""

from __future__ import annotations

import subprocess
import sys

from course_tools.bench import drawings
from tfbook_utils.paths import REPO_ROOT


def test_every_drawing_is_measured_and_answered() -> None:
    results = drawings.measure(rounds=1)
    rows = {name: row for name, row in results.items() if name != "load"}
    assert set(rows) == {"circle_4000", "circle_2000", "stroke_update", "stroke_message", "stroke_code",
                         "scribble_update", "scribble_message", "scribble_code"}
    for row in rows.values():
        assert row["best_s"] > 0 and row["cpu_s"] >= 0 and row["rounds"] == 1
    assert all(rows[name]["outcome"] == "28x28 image" for name in ("circle_4000", "stroke_update", "stroke_message"))
    assert "289 points" in rows["stroke_message"]["path"]  # the 100,000 points as canvas.js sends them
    lines = drawings.report_lines(results)
    assert lines[0].startswith("### ") and sum(line.startswith("|") for line in lines) == 2 + len(rows)
    assert all(line.count("|") == 8 for line in lines if line.startswith("|"))


def test_runs_as_a_module() -> None:
    done = subprocess.run([sys.executable, "-c", "import course_tools.bench.drawings as d; "
                           "print('\\n'.join(d.report_lines({'load': {}})))"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("### Large drawings")
