"""Grading without a hub: submissions downloaded from a learning-management system.

The instructor downloads the students' notebooks (Moodle, Google Classroom,
...) into one folder, each named ``<student id>_<notebook file>`` or zipped
as such; ``tfbook.py assignments zip-collect NAME FOLDER`` copies them into
nbgrader's ``downloaded/NAME/archive``, runs ``nbgrader zip_collect`` (which
files each one under ``submitted/<student>/NAME/``), and autogrades them;
``export`` then writes the same CSV as with a hub.
"""

from __future__ import annotations

from pathlib import Path

from . import AssignmentError, build
from .grading import Grading, copy_downloads, summary


def zip_collect(grading: Grading, name: str, downloads: Path, echo=print) -> list[str]:
    """Collect and autograde; returns the students whose submissions were collected."""
    notebook = build.by_name(name)
    course = grading.course
    if not (course.root / "release" / notebook.assignment_name / notebook.assignment_file).is_file():
        build.build(course, [notebook], echo=lambda line: None)  # zip_collect compares with the release
    count = copy_downloads(course, notebook.assignment_name, downloads)
    done = course.nbgrader("zip_collect", notebook.assignment_name, "--force", check=False)
    log = done.stdout + done.stderr
    students = sorted(p.parent.name for p in (course.root / "submitted").glob(f"*/{notebook.assignment_name}"))
    if done.returncode != 0 or not students:
        raise AssignmentError(f"zip_collect found no submission among {count} file(s): name each "
                              f"<student id>_{notebook.assignment_file} ({summary(log, 'WARNING') or 'no log'})")
    skipped = summary(log, "Skipping")
    echo(f"collected {len(students)} submission(s) from {count} file(s)" + (f"; {skipped}" if skipped else ""))
    grading.autograde(notebook.assignment_name, echo)
    return students
