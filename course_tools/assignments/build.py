"""The assignments' sources, sized for a class, and their student versions.

Each source is a chapter's exercise notebook (catalog ``assignment=True``),
copied into ``source/<name>/`` of the course folder with the runner's quick
sizing (``course_tools/quick.py``: ``range(2000)`` becomes ``range(200)``, or
the catalog's ``quick_steps``), so that a Validate and an autograde each
finish in a few minutes on a 2-core CPU.  ``nbgrader generate_assignment``
then writes the student version into ``release/<name>/``: solutions replaced
by ``# YOUR CODE HERE``, hidden tests removed, outputs cleared.  Without a
hub those files are what the instructor hands out.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from .. import catalog, quick
from ..catalog import Notebook
from . import AssignmentError
from .course import Course


def pick(names: list[str]) -> list[Notebook]:
    """The assignments ``names`` pick (tags such as ``mse-ex``, file names, chapters); all if none."""
    chosen = catalog.assignments()
    if names:
        try:
            wanted = {n.tag for n in catalog.select(names)}
        except ValueError as error:
            raise AssignmentError(str(error)) from None
        chosen = [n for n in chosen if n.tag in wanted]
        if not chosen:
            raise AssignmentError(f"{', '.join(names)}: no assignment; the assignments are "
                                  + ", ".join(n.assignment_name for n in catalog.assignments()))
    return chosen


def by_name(name: str) -> Notebook:
    for notebook in catalog.assignments():
        if notebook.assignment_name == name.lower():
            return notebook
    raise AssignmentError(f"no assignment {name!r}; the assignments are "
                          + ", ".join(n.assignment_name for n in catalog.assignments()))


def sized_source(notebook: Notebook) -> nbformat.NotebookNode:
    """The source notebook with the class's loop lengths, outputs kept out."""
    nb = quick.quick_version(nbformat.read(notebook.path, as_version=4), notebook.quick_steps)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def write_source(course: Course, notebook: Notebook) -> Path:
    folder = course.root / "source" / notebook.assignment_name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / notebook.assignment_file
    nbformat.write(sized_source(notebook), path)
    return path


def student_version(course: Course, notebook: Notebook) -> Path:
    return course.root / "release" / notebook.assignment_name / notebook.assignment_file


def build(course: Course, notebooks: list[Notebook], echo=print) -> list[Path]:
    """Sources into the course folder, then nbgrader's student versions; returns their paths."""
    course.write_config()
    made = []
    for notebook in notebooks:
        write_source(course, notebook)
        course.nbgrader("generate_assignment", notebook.assignment_name, "--force")
        made.append(student_version(course, notebook))
        echo(f"{notebook.assignment_name}: {made[-1]}")
    return made
