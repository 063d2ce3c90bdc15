"""Whole runs lose nothing: a dead kernel, Ctrl-C and a second run at the
same time each end cleanly and keep every earlier result (real kernels,
tiny notebooks added to a copy of the course's catalog)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .course_copy import course_command, make_course_copy


@pytest.fixture
def course(tmp_path: Path) -> Path:
    return make_course_copy(tmp_path / "repo")


def results(repo: Path) -> dict[str, dict]:
    path = repo / "build" / "lecture-quick" / "results.json"
    return {Path(r["notebook"]).stem: r for r in json.loads(path.read_text(encoding="utf-8"))} if path.is_file() else {}


def finish(process: subprocess.Popen, timeout: float = 120) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def test_a_dead_kernel_ends_its_notebook_with_one_line_and_the_run_goes_on(course: Path) -> None:
    start = time.monotonic()
    code, out, err = finish(course_command(course, "lecture", "--quick", "DIE", "QKB"))
    assert code == 1, err  # one notebook failed
    assert "Traceback" not in err, err
    died = results(course)["Dies"]
    assert died["error"].startswith("the kernel died") and "\n" not in died["error"]
    assert died["seconds"] < 30
    assert results(course)["Quick two"]["result"] == "second"  # the next notebook ran
    assert "the kernel died" in out and "Traceback" not in out + err
    assert time.monotonic() - start < 90


def test_ctrl_c_keeps_every_finished_result_and_earlier_runs(course: Path) -> None:
    assert finish(course_command(course, "lecture", "--quick", "QKA"))[0] == 0
    trained = sorted(p.name for p in (course / "build" / "lecture-quick" / "trained").iterdir())
    assert trained == ["qka_session-1.data-00000-of-00001", "qka_session-1.index"]

    running = course_command(course, "lecture", "--quick", "QKB", "SLW")
    deadline = time.monotonic() + 90
    while "Quick two" not in results(course):  # wait until the first notebook of this run is published
        assert time.monotonic() < deadline and running.poll() is None
        time.sleep(0.5)
    time.sleep(4)  # the slow notebook's kernel is up and sleeping
    running.send_signal(signal.SIGINT)  # what Ctrl-C sends to the foreground process
    code, out, err = finish(running, timeout=40)

    assert code == 130
    assert "Interrupted" in out and "1 finished notebook(s) kept" in out
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err
    kept = results(course)
    assert kept["Quick one"]["result"] == "first" and kept["Quick two"]["result"] == "second"
    assert "Sleeps" not in kept
    executed = course / "build" / "lecture-quick" / "executed" / "Tiny"
    assert sorted(p.name for p in executed.iterdir()) == ["Quick one.ipynb", "Quick two.ipynb"]
    assert sorted(p.name for p in (course / "build" / "lecture-quick" / "trained").iterdir()) == trained
    assert list((course / "build" / "runs").iterdir()) == []  # the run's own folder is gone
    leftovers = subprocess.run(["pgrep", "-f", str(course / "build" / "runs")], capture_output=True, text=True)
    assert leftovers.stdout == ""  # no kernel left running


def test_two_runs_at_the_same_time_both_keep_their_results(course: Path) -> None:
    first = course_command(course, "lecture", "--quick", "QKA")
    second = course_command(course, "lecture", "--quick", "QKB")
    assert finish(first)[0] == 0 and finish(second)[0] == 0
    kept = results(course)
    assert kept["Quick one"]["result"] == "first" and kept["Quick two"]["result"] == "second"
    markdown = (course / "build" / "lecture-quick" / "results.md").read_text(encoding="utf-8")
    assert "Tiny/Quick one.ipynb | first" in markdown and "Tiny/Quick two.ipynb | second" in markdown


def test_a_failing_cell_is_one_plain_line_in_the_terminal_and_in_the_files(course: Path) -> None:
    code, out, err = finish(course_command(course, "lecture", "--quick", "ERR"))
    assert code == 1
    assert results(course)["Raises"]["error"] == "ValueError: bad value"
    for path in (course / "build" / "lecture-quick").glob("results.*"):
        assert "\x1b[" not in path.read_text(encoding="utf-8"), path.name


def test_names_pick_exactly_and_unknown_names_are_refused(course: Path) -> None:
    code, out, err = finish(course_command(course, "lecture", "--quick", "QK"))
    assert code == 2 and "No notebook is called qk" in err
    assert not (course / "build" / "lecture-quick").exists()  # nothing ran, nothing was touched
