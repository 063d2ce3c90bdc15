"""The README's capacity section: every notebook's memory and CPU, two class plans, students per server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from course_tools.catalog import COURSE, REPO_ROOT, by_tag, shipping
from course_tools.hub import capacity

README = f"# tfbook\n\nintro\n\n{capacity.BEGIN}\nOLD TABLE\n{capacity.END}\n\nafter\n"
HEAVY = [n.tag for n in COURSE if n.instructor_trains]  # MDC, MDT, MDC-EX, CNN, in the catalog's order
PEAK = dict(zip(HEAVY, (1900, 1800, 1700, 1500)))  # MB; every other notebook 700
CPU = dict(zip(HEAVY, (300, 350, 400, 1500)))  # s; every other notebook 60


def record(tag: str, quick: bool) -> dict:
    n = by_tag(tag)
    return {"notebook": n.relative_path, "seconds": 30.0, "error": "", "result": "", "problems": [],
            "peak_mb": PEAK.get(tag, 700) - (100 if quick else 0), "cpu_s": CPU.get(tag, 60) / (10 if quick else 1),
            "finished": "2026-12-02 10:00:00 UTC"}


def publish(build: Path, quick: bool, skip: str | None = None, **changes) -> None:
    folder = build / ("lecture-quick" if quick else "lecture")
    folder.mkdir(parents=True, exist_ok=True)
    records = [{**record(n.tag, quick), **(changes if n.tag == "MSE" else {})} for n in COURSE if n.tag != skip]
    (folder / "results.json").write_text(json.dumps(records))


@pytest.fixture
def build(tmp_path: Path) -> Path:
    publish(tmp_path, quick=False)
    publish(tmp_path, quick=True)
    return tmp_path


def generated(build: Path, tmp_path: Path) -> str:
    readme = tmp_path / "README.md"
    readme.write_text(README)
    assert capacity.write_readme(readme=readme, build=build) == "README.md's capacity section updated"
    return readme.read_text()


def test_every_notebook_with_its_full_and_quick_numbers(build: Path, tmp_path: Path) -> None:
    text = generated(build, tmp_path)
    assert text.startswith("# tfbook\n\nintro\n\n") and text.endswith("\n\nafter\n") and "OLD TABLE" not in text
    rows = [line for line in text.splitlines() if line.startswith("| Chapter")]
    assert len(rows) == len(COURSE)
    assert "| Chapter04 MDC (MNIST dynamic filter classification) | 1,900 | 300 | 1,800 | 30 |" in rows
    assert "2026-12-02" in text and capacity.machine() in text


def test_the_two_plans_and_students_per_server(build: Path, tmp_path: Path) -> None:
    text = generated(build, tmp_path)
    plan_a, plan_b = capacity.plans()
    lecture = [n for n in COURSE if n.kind != "beyond"]
    assert list(plan_a.notebooks) == lecture
    # plan B leaves out the CNN trainings, among them every lecture notebook whose checkpoint ships;
    # the notebooks that restore those checkpoints stay
    left_out = {n.tag for n in lecture} - {n.tag for n in plan_b.notebooks}
    assert left_out == set(capacity.CNN_TRAINING) >= {n.tag for n in shipping() if n.kind != "beyond"}
    restoring = {n.tag for n in lecture if n.restores}
    assert restoring and restoring <= {n.tag for n in plan_b.notebooks}
    assert len(plan_b.notebooks) == len(lecture) - len(HEAVY)
    assert "mdc_session-4000" in plan_b.says and "cnn_session-20000" in plan_b.says
    # plan A: the largest kernel is MDC's, the heaviest notebook the two-layer CNN
    assert f"| {capacity.SERVER_MB + 1900:,} MB (MDC + server) |" in text
    assert "CNN: 1,500 CPU s" in text
    # 16 cores, 64 GB: plan A by memory (64 GB x 0.9 - hub) / (server + 1900 MB) = 28; by CPU 16 x 600 / 1500 = 6
    # plan B: every kernel 700 MB: by memory 58,722 / 860 = 68; heaviest 60 CPU s: 16 x 600 / 60 = 160
    assert "| 16 cores, 64 GB | 6 (CPU) | 68 (memory) |" in text
    assert "| 4 cores, 16 GB | 1 (CPU) | 16 (memory) |" in text
    servers = [line for line in text.splitlines() if line.startswith("| ") and " cores, " in line]
    counts = [[int(cell.split()[0]) for cell in line.strip("|").split("|")[1:]] for line in servers]
    assert all(b >= a for a, b in counts)  # plan B never holds fewer students
    assert counts == sorted(counts)  # bigger servers never hold fewer


def test_a_missing_or_unclean_run_leaves_the_readme_as_it_is(build: Path, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(README)
    (build / "lecture-quick" / "results.json").unlink()
    with pytest.raises(capacity.NotReady, match=r"no quick run .* `python3 tfbook.py lecture --quick`"):
        capacity.write_readme(readme=readme, build=build)
    publish(build, quick=True, skip="CNN")
    with pytest.raises(capacity.NotReady, match=r"no clean quick result .* for CNN"):
        capacity.write_readme(readme=readme, build=build)
    publish(build, quick=True)
    publish(build, quick=False, peak_mb=None)  # a run made where /proc is missing
    with pytest.raises(capacity.NotReady, match="for MSE"):
        capacity.write_readme(readme=readme, build=build)
    assert readme.read_text() == README


def test_check_says_whether_the_readme_is_current(build: Path, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(README)
    with pytest.raises(capacity.NotReady, match="differs"):
        capacity.write_readme(check_only=True, readme=readme, build=build)
    capacity.write_readme(readme=readme, build=build)
    assert capacity.write_readme(check_only=True, readme=readme, build=build).endswith("up to date")


def test_the_readme_has_the_capacity_markers_once() -> None:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count(capacity.BEGIN) == 1 and text.count(capacity.END) == 1
    assert text.index(capacity.BEGIN) < text.index(capacity.END)
