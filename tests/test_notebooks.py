"""Every notebook of the course runs top to bottom in quick mode, cleanly.

The notebooks run in a temporary copy of the repository (nothing is
written into the tracked tree) with their training loops shortened in
memory (see course_tools/quick.py).  For each we check what a student
would notice: no error, nothing on stderr, no warning text, the lecture's
cell tags in order, a run that ends in reasonable time, and for the
training notebooks that even the short run learned something (the
catalog's ``min_quick_accuracy``, well above chance).

The notebooks run two at a time (``side_by_side.py``), each of the two
workers in its own copy of the repository.
"""

from __future__ import annotations

import queue
import re
import threading

import nbformat
import pytest

from course_tools import catalog, checks, runner
from course_tools.catalog import Notebook
from course_tools.runner import NotebookRun, copy_repository

from .side_by_side import WORKERS, one_core_each

SECONDS_PER_NOTEBOOK = 240  # a notebook's quick run, while another one runs beside it
# notebooks that compute in the browser run in Chromium: tests/browser/test_tfjs_notebook.py
HEADLESS = [n for n in catalog.COURSE if not n.browser]


def test_the_catalog_and_chapters_folder_hold_the_same_notebooks() -> None:
    on_disk = {p.relative_to(catalog.REPO_ROOT).as_posix() for p in catalog.CHAPTERS.glob("*/*.ipynb")}
    listed = {n.relative_path for n in catalog.COURSE}
    assert on_disk - listed == set(), "notebooks missing from course_tools/catalog.py"
    assert listed - on_disk == set(), "catalog entries without a notebook"


@pytest.mark.parametrize("notebook", catalog.COURSE, ids=[n.tag for n in catalog.COURSE])
def test_every_notebook_keeps_its_title_and_its_tags(notebook: Notebook) -> None:
    nb = nbformat.read(notebook.path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(f"# {notebook.title}")
    assert checks.tag_prefix(nb) == notebook.tag
    assert checks.tag_problems(nb, notebook.repeated_tags) == []


def selected_notebooks(session: pytest.Session) -> list[Notebook]:
    """The notebooks whose quick-run test this session runs (all, or those chosen with -k)."""
    return [item.callspec.params["notebook"] for item in session.items
            if getattr(item, "originalname", "") == "test_notebook_runs_cleanly_in_quick_mode"]


@pytest.fixture(scope="session")
def quick_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Each selected notebook's quick run (a ``NotebookRun``, or the exception that stopped it),
    ``WORKERS`` at a time in catalog order, each worker in its own copy of the repository."""
    todo: queue.Queue[Notebook] = queue.Queue()
    for notebook in selected_notebooks(request.session):
        todo.put(notebook)
    runs: dict[str, object] = {}

    def worker(number: int) -> None:
        repo = copy_repository(tmp_path_factory.mktemp(f"quick-{number}") / "repo")
        while True:
            try:
                notebook = todo.get_nowait()
            except queue.Empty:
                return
            try:
                runs[notebook.tag] = runner.execute(
                    repo / notebook.relative_path, repo, quick=True, timeout=SECONDS_PER_NOTEBOOK,
                    quick_steps=notebook.quick_steps, repeated_tags=notebook.repeated_tags)
            except Exception as error:  # noqa: BLE001 - reported by that notebook's own test
                runs[notebook.tag] = error

    threads = [threading.Thread(target=worker, args=(n,), name=f"quick-{n}") for n in range(WORKERS)]
    with one_core_each():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return runs


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", HEADLESS, ids=[n.tag for n in HEADLESS])
def test_notebook_runs_cleanly_in_quick_mode(notebook: Notebook, quick_runs: dict[str, object]) -> None:
    run = quick_runs.get(notebook.tag, RuntimeError("no worker could copy the repository to run it"))
    if isinstance(run, Exception):
        raise run
    assert isinstance(run, NotebookRun)
    assert run.error == ""
    assert run.problems == []
    assert run.seconds < SECONDS_PER_NOTEBOOK

    if notebook.restores is not None:  # rule 2 of the quick-mode contract (runner.py)
        said = "".join(text for cell in run.executed.cells if cell.cell_type == "code"
                       for _, text in checks.outputs_text(cell))
        assert f"the shipped checkpoint: checkpoints/{notebook.restores}" in said

    if notebook.min_quick_accuracy is not None:
        accuracy = float(re.search(r"accuracy ([0-9.]+)", run.result).group(1))
        assert accuracy >= notebook.min_quick_accuracy, run.result
