"""The gradebook as CSV, a column per question (nbgrader's own export has totals only).

One row per student and assignment: the points of each graded cell
(``<grade id>``; empty while a written answer is not graded yet), the
autograded and the total score, how many seconds late, and whether any
answer still waits for the instructor.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

COLUMNS = ("student", "assignment", "timestamp", "seconds_late", "autograded", "autograded_max",
           "score", "max_score", "needs_manual_grade", "problem")


def rows(db: Path, course_id: str) -> tuple[list[str], list[dict]]:
    """The CSV's columns and rows, read with nbgrader's Gradebook API."""
    import json

    from nbgrader.api import Gradebook, MissingEntry

    try:
        problems = json.loads((db.parent / "submission_problems.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        problems = {}
    questions: list[str] = []
    found: list[dict] = []
    with Gradebook(f"sqlite:///{db}", course_id=course_id) as gradebook:
        for assignment in gradebook.assignments:
            for notebook in assignment.notebooks:
                for cell in notebook.grade_cells:
                    name = f"{assignment.name}:{cell.name}"
                    if name not in questions:
                        questions.append(name)
        for student in sorted(gradebook.students, key=lambda s: s.id):
            for assignment in gradebook.assignments:
                try:
                    submission = gradebook.find_submission(assignment.name, student.id)
                except MissingEntry:
                    continue
                row = {"student": student.id, "assignment": assignment.name,
                       "timestamp": submission.timestamp.isoformat() if submission.timestamp else "",
                       "seconds_late": round(submission.total_seconds_late),
                       "score": submission.score, "max_score": submission.max_score,
                       "needs_manual_grade": submission.needs_manual_grade,
                       "problem": problems.get(assignment.name, {}).get(student.id, "")}
                autograded = autograded_max = 0.0
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        manual = grade.cell.cell_type == "markdown"
                        row[f"{assignment.name}:{grade.name}"] = (
                            "" if grade.needs_manual_grade and grade.manual_score is None else grade.score)
                        if not manual:
                            autograded += grade.score
                            autograded_max += grade.max_score
                row["autograded"], row["autograded_max"] = autograded, autograded_max
                found.append(row)
    return [*COLUMNS, *questions], found


def write_csv(db: Path, course_id: str, target: Path | None) -> str:
    """The CSV, written to ``target`` (or returned, for printing)."""
    columns, found = rows(db, course_id)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(found)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(out.getvalue(), encoding="utf-8")
    return out.getvalue()
