"""Release, collect, autograde and return feedback, each one nbgrader run (or two).

With a hub, autograde runs as root and starts every kernel as the class's
grading account (``course_tools/hub/grader_kernel.py``), so the students'
code never runs as the instructor, who owns the gradebook; afterwards the
files autograde wrote are given back to the instructor.  Without a hub it
runs as the user who runs it.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import AssignmentError, build
from .course import ZONE, Course

PROBLEMS_FILE = "submission_problems.json"


@dataclass
class Grading:
    """What the commands act on: the course folder, and the hub's class if there is one."""

    course: Course
    grader: str | None = None  # the hub's grading account (autograde starts kernels as it)
    kernels: Path | None = None  # the kernelspec folder that does that

    def release(self, name: str, due: str | None, zone: str = ZONE, echo=print) -> None:
        notebook = build.by_name(name)
        args = ["db", "assignment", "add", notebook.assignment_name]
        if due:
            args.append(f"--duedate={due_date(due, zone)}")
        self.course.nbgrader(*args)
        build.write_source(self.course, notebook)
        give_back(self.course.root, self.course.user)
        self.course.nbgrader("generate_assignment", notebook.assignment_name, "--force")
        self.course.nbgrader("release_assignment", notebook.assignment_name, "--force")
        echo(f"released {notebook.assignment_name}" + (f", due {due_date(due, zone)}" if due else ""))

    def collect(self, name: str, echo=print) -> None:
        done = self.course.nbgrader("collect", build.by_name(name).assignment_name, "--update")
        echo(summary(done.stdout + done.stderr, "Collecting submission") or "nothing new was submitted")

    def autograde(self, name: str, echo=print) -> str:
        notebook = build.by_name(name)
        problems = submission_problems(self.course.root, notebook)
        for student, problem in problems.items():
            echo(f"{student}: {problem}")
        if self.grader and os.geteuid() == 0:
            sandboxed = Course(self.course.root, self.course.course_id, self.course.python, None,
                               self.course.exchange, {"JUPYTER_PATH": str(self.kernels)})
            try:
                done = sandboxed.nbgrader("autograde", notebook.assignment_name, check=False)
            finally:
                give_back(self.course.root, self.course.user)
        else:
            done = self.course.nbgrader("autograde", notebook.assignment_name, check=False)
        log = done.stdout + done.stderr
        failed = sorted(set(re.findall(r"error processing assignment '[^']*' for student '([^']+)'", log)))
        for student in failed:
            problems.setdefault(student, "nbgrader could not grade this notebook: 0 points")
        record_problems(self.course.root, notebook.assignment_name, problems)
        give_back(self.course.root, self.course.user)
        graded = sorted(p.parent.name for p in (self.course.root / "autograded").glob(f"*/{notebook.assignment_name}"))
        echo(f"autograded {notebook.assignment_name}: {len(set(graded) - set(failed))} submission(s)"
             + (f"; not graded: {', '.join(failed)} (see above)" if failed else ""))
        return log

    def feedback(self, name: str, echo=print) -> None:
        assignment = build.by_name(name).assignment_name
        self.course.nbgrader("generate_feedback", assignment, "--force")
        if self.course.exchange is not None:
            self.course.nbgrader("release_feedback", assignment)
        echo(f"feedback for {assignment}: {self.course.root / 'feedback'} (students: Assignments, Fetch Feedback)")


def due_date(text: str, zone: str = ZONE) -> str:
    """``"2026-12-08 17:00"`` -> ``"2026-12-08 17:00:00 Asia/Tokyo"``, as nbgrader reads it (checked first)."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise AssignmentError(f"--zone {zone}: not a time zone name such as Asia/Tokyo") from None
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            when = datetime.strptime(text.strip(), pattern)
            break
        except ValueError:
            continue
    else:
        raise AssignmentError(f"--due {text!r}: write the date as YYYY-MM-DD HH:MM (in {zone})")
    return f"{when:%Y-%m-%d %H:%M:%S} {zone}"


def summary(log: str, marker: str) -> str:
    lines = [line.strip() for line in log.splitlines() if marker in line]
    return "; ".join(lines[-5:])[:600]


def give_back(root: Path, user: str | None) -> None:
    """Files root wrote into the course folder go back to the instructor (the group stays the grader's)."""
    if user is None:
        return
    uid = pwd.getpwnam(user).pw_uid
    for path in [root, *root.rglob("*")]:
        try:
            if path.stat().st_uid != uid:
                os.chown(path, uid, -1, follow_symlinks=False)
        except OSError:
            pass


def submission_problems(root: Path, notebook) -> dict[str, str]:
    """A clear line for each submission nbgrader would grade badly or not at all: the notebook
    renamed or missing, not a notebook, empty, a graded cell deleted or its id changed."""
    source = root / "source" / notebook.assignment_name / notebook.assignment_file
    try:
        cells = json.loads(source.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return {}
    ids = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in cells} - {None}
    graded = {c["metadata"]["nbgrader"]["grade_id"] for c in cells if c.get("metadata", {}).get("nbgrader", {})
              .get("grade")}
    problems = {}
    for folder in sorted((root / "submitted").glob(f"*/{notebook.assignment_name}")):
        student, path = folder.parent.name, folder / notebook.assignment_file
        if not path.is_file():
            others = sorted(p.name for p in folder.glob("*.ipynb"))
            problems[student] = (f"no {notebook.assignment_file} in the submission"
                                 + (f" (found {', '.join(others)}: renamed?)" if others else "")
                                 + ": not graded, 0 points")
            continue
        try:
            found_cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError, AttributeError):
            problems[student] = f"{notebook.assignment_file} is not a notebook (a damaged file): not graded, 0 points"
            continue
        if not found_cells:
            problems[student] = f"{notebook.assignment_file} is empty: not graded, 0 points"
            continue
        found = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in found_cells} - {None}
        if found - ids:
            problems[student] = (f"the id of a graded cell was changed ({', '.join(sorted(found - ids))}): "
                                 "nbgrader cannot grade this notebook, 0 points (the student copies the answers "
                                 "into a freshly fetched notebook and submits again)")
        elif graded - found:
            problems[student] = (f"graded cell(s) deleted ({', '.join(sorted(graded - found))}): they score 0, "
                                 "the rest is graded")
    return problems


def record_problems(root: Path, assignment: str, problems: dict[str, str]) -> None:
    """Kept beside the gradebook, for the CSV's ``problem`` column."""
    path = root / PROBLEMS_FILE
    try:
        known = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    known[assignment] = problems
    path.write_text(json.dumps(known, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def copy_downloads(course: Course, name: str, downloads: Path) -> int:
    """Files downloaded from an LMS (``<student>_<notebook>.ipynb``, or zips of them) into nbgrader's
    ``downloaded/<name>/archive``; returns how many."""
    if not downloads.is_dir():
        raise AssignmentError(f"{downloads}: no such folder (put the files downloaded from the LMS there)")
    archive = course.root / "downloaded" / name / "archive"
    shutil.rmtree(archive, ignore_errors=True)
    archive.mkdir(parents=True)
    count = 0
    for path in sorted(downloads.iterdir()):
        if path.is_file() and re.search(r"\.(ipynb|zip)$", path.name):
            shutil.copy2(path, archive / path.name)
            count += 1
    if count == 0:
        raise AssignmentError(f"{downloads} holds no .ipynb or .zip files")
    return count
