"""The course's exercises as nbgrader assignments, without a hub (laptops, Colab, an LMS).

* nbgrader generates each student version from its chapter notebook: no
  solution and no hidden test is left in it, the self-checks and visible
  tests are, and the training loops are the class's size;
* the self-check says in Japanese what is wrong (nbgrader's Validate, as a
  student runs it), and passes a correct answer;
* notebooks downloaded from a learning-management system are collected
  (``zip_collect``), autograded and exported into one CSV with a column per
  question; a renamed, an empty and a tampered notebook get a clear line in
  the command's output and in the CSV, never a traceback; the feedback shows
  the failed tests' messages, not the hidden tests' code.

The hub's side (release, fetch, Validate and Submit in Chromium, feedback,
due dates) is tests/hub/test_assignments_hub.py.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from course_tools import catalog
from course_tools.assignments import build
from course_tools.assignments.course import Course

SMALLEST = catalog.by_tag("MSE-EX")  # about 20 s to validate or autograde
CORRECT = "train_step = tf.train.GradientDescentOptimizer(learning_rate).minimize(loss)"
WRONG = "train_step = tf.train.AdamOptimizer().minimize(loss)"
STUB = "# YOUR CODE HERE\n            raise NotImplementedError()"


def regions(text: str, begin: str, end: str) -> list[str]:
    """The lines between ``### BEGIN ...`` and ``### END ...`` markers."""
    return [line.strip() for block in re.findall(rf"### {begin}\n(.*?)### {end}", text, re.S)
            for line in block.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Course:
    course = Course(root=tmp_path_factory.mktemp("assignments") / "course")
    build.build(course, catalog.assignments(), echo=lambda line: None)
    return course


def test_assignments_student_versions_hold_no_solutions_or_hidden_tests(course: Course) -> None:
    assert len(catalog.assignments()) >= 5
    assert {n.chapter for n in catalog.assignments()} >= {f"Chapter0{i}" for i in range(1, 6)}
    for notebook in catalog.assignments():
        source = notebook.path.read_text(encoding="utf-8")
        student = build.student_version(course, notebook).read_text(encoding="utf-8")
        nb = json.loads(student)
        code = "\n".join("".join(c["source"]) for c in nb["cells"])
        text = "\n".join("".join(c["source"]) for c in json.loads(source)["cells"])
        solutions = regions(text, "BEGIN SOLUTION", "END SOLUTION")
        hidden = regions(text, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
        assert solutions and hidden, notebook.title
        for line in solutions + hidden:
            assert line not in code, f"{notebook.title}: {line!r} is in the student version"
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
            assert marker not in student, notebook.title
        assert "# YOUR CODE HERE" in code and "YOUR ANSWER HERE" in code
        assert all(c.get("outputs", []) == [] for c in nb["cells"] if c["cell_type"] == "code")
        graded = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
        assert len(graded) == 3, notebook.title  # the self-check, the tests, the written answer
        assert all(re.search("[ぁ-んァ-ン]", "".join(c["source"])) for c in graded[:2])  # Japanese messages
        if "range(2000)" in source:  # the class's size: Validate and autograde in minutes
            assert "range(200)" in code and "range(2000)" not in code


def answered(course: Course, target: Path, line: str, written: str = "") -> Path:
    """The student version of the smallest assignment with ``line`` typed as the answer."""
    nb = json.loads(build.student_version(course, SMALLEST).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if STUB in text:
            cell["source"] = text.replace(STUB, line)
        elif written and text.startswith("YOUR ANSWER HERE"):
            cell["source"] = written
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(nb), encoding="utf-8")
    return target


def validate(course: Course, path: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "nbgrader", "validate", str(path)], cwd=course.root,
                          capture_output=True, text=True, timeout=600, env=course.environment())
    return done.stdout + done.stderr


def test_assignments_self_check_says_what_is_wrong_in_japanese(course: Course, tmp_path: Path) -> None:
    wrong = validate(course, answered(course, tmp_path / "wrong" / SMALLEST.assignment_file, WRONG))
    assert "Adam とまったく同じです" in wrong and "GradientDescentOptimizer(learning_rate)" in wrong, wrong[-2000:]
    right = validate(course, answered(course, tmp_path / "right" / SMALLEST.assignment_file, CORRECT,
                                      "学習率が小さいほど、学習はゆっくり進みました。"))
    assert "Success! Your notebook passes all the tests." in right, right[-2000:]


def test_assignments_zip_collect_grades_lms_downloads_into_one_csv(course: Course, tmp_path: Path) -> None:
    downloads = tmp_path / "downloads"
    file = SMALLEST.assignment_file
    answered(course, downloads / f"alice_{file}", CORRECT, "学習率 0.01 では誤差が上下しました。")
    answered(course, downloads / f"bob_{file}", WRONG)
    answered(course, downloads / "carol_my_copy.ipynb", CORRECT)  # renamed
    (downloads / f"dave_{file}").write_text(json.dumps({**json.loads((downloads / f"bob_{file}").read_text()),
                                                        "cells": []}))  # empty
    tampered = json.loads((downloads / f"alice_{file}").read_text())
    for cell in tampered["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id", "").endswith("_tests"):
            cell["metadata"]["nbgrader"]["grade_id"] = "my_own_tests"  # a changed cell id
    (downloads / f"erin_{file}").write_text(json.dumps(tampered))

    command = [sys.executable, "-m", "course_tools", "assignments", "--course", str(course.root)]
    done = subprocess.run([*command, "zip-collect", SMALLEST.assignment_name, str(downloads)], capture_output=True,
                          text=True, timeout=900, cwd=catalog.REPO_ROOT)
    said = done.stdout + done.stderr
    assert done.returncode == 0 and "Traceback" not in said, said[-3000:]
    assert "collected 5 submission(s)" in said
    assert re.search(r"carol: no \S+ in the submission \(found my_copy.ipynb: renamed\?\)", said), said
    assert "dave: " in said and "is empty" in said
    assert "erin: the id of a graded cell was changed (my_own_tests)" in said

    csv_file = tmp_path / "grades.csv"
    subprocess.run([*command, "export", "--csv", str(csv_file)], check=True, capture_output=True, timeout=300)
    rows = {row["student"]: row for row in csv.DictReader(io.StringIO(csv_file.read_text(encoding="utf-8")))}
    name = SMALLEST.assignment_name
    assert {f"{name}:{name}_check", f"{name}:{name}_tests", f"{name}:{name}_answer"} <= set(rows["alice"])
    assert float(rows["alice"]["autograded"]) == float(rows["alice"]["autograded_max"]) == 5.0
    assert float(rows["bob"]["autograded"]) < 5.0 and rows["bob"][f"{name}:{name}_check"] == "0.0"
    assert rows["alice"]["needs_manual_grade"] == "True"  # the written answer waits for the instructor
    for student in ("carol", "dave", "erin"):
        assert rows[student]["problem"] and float(rows[student]["score"]) == 0.0, rows[student]
    assert rows["alice"]["problem"] == rows["bob"]["problem"] == ""

    # feedback as HTML to hand back: the failed tests' messages, not the hidden tests' code
    subprocess.run([*command, "feedback", name], check=True, capture_output=True, timeout=600)
    page = next((course.root / "feedback" / "bob" / name).glob("*.html")).read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "Adam とまったく同じです" in text
    source = "\n".join("".join(c["source"]) for c in json.loads(SMALLEST.path.read_text())["cells"])
    for line in regions(source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert line.rstrip(" \\") not in text, line


def test_assignments_the_hub_warns_when_students_would_clone_the_solutions(tmp_path: Path) -> None:
    from course_tools.assignments.branch import student_branch
    from course_tools.hub.config import Settings, git_branch
    from course_tools.hub.nbgrader import solutions_served

    repo = tmp_path / "course"
    subprocess.run(["git", "clone", "-q", str(catalog.REPO_ROOT), str(repo)], check=True, capture_output=True)
    branch = git_branch(repo)
    served = Settings(state=str(tmp_path / "state"), serve_repo=str(repo), branch=branch)
    assert solutions_served(served) == [n.assignment_name for n in catalog.assignments()]
    student_branch(repo, echo=lambda line: None)
    assert solutions_served(Settings(state=str(tmp_path / "state"), serve_repo=str(repo), branch="students")) == []


def test_assignments_each_class_on_a_hub_has_its_own_course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two classes on one server: their own nbgrader course ids and folders, nothing of a class in the
    config every user reads, and a second class of the same instructor told in one line which class grades."""
    from course_tools.assignments.course import config_text
    from course_tools.hub import HubError, classes
    from course_tools.hub import nbgrader as hub_nbgrader
    from course_tools.hub.config import Settings

    monkeypatch.setattr(classes, "REGISTRY", tmp_path / "registry")
    prefix = str(tmp_path / "prefix")
    a, b, c = (Settings(state=str(tmp_path / name), prefix=prefix, instructor=teacher)
               for name, teacher in (("class A", "teacher"), ("class-b", "teacher"), ("class-c", "other")))
    for settings in (a, b, c):
        settings.save()
        classes.register(settings.state_dir)
    ids = [hub_nbgrader.folders(s).course_id for s in (a, b, c)]
    assert len(set(ids)) == 3 and all(re.fullmatch(r"tfbook-[A-Za-z0-9-]+-[0-9a-f]{6}", i) for i in ids), ids
    assert ids[0].startswith("tfbook-class-A-") and hub_nbgrader.course(a).course_id == ids[0]
    assert len({hub_nbgrader.folders(s).course for s in (a, b, c)}) == 3
    assert "course_id" not in config_text(None, None, Path("/x")) and "course_id" not in config_text(None, None)
    assert hub_nbgrader.grading_elsewhere(b) is None  # nobody grades yet
    (hub_nbgrader.folders(a).course).mkdir(parents=True)
    (hub_nbgrader.folders(a).course / "nbgrader_config.py").write_text("")
    assert hub_nbgrader.grading_elsewhere(b) == a.state_dir and hub_nbgrader.grading_elsewhere(c) is None
    with pytest.raises(HubError) as refused:
        hub_nbgrader.check_ready(b)
    assert str(a.state_dir) in str(refused.value) and "--instructor" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert hub_nbgrader.greeting(b).startswith("Assignments: off")
    assert hub_nbgrader.check_ready(a) == hub_nbgrader.folders(a)
