"""Every notebook of chapters/ runs top to bottom in quick mode, cleanly.

The notebooks run in a temporary copy of the repository (nothing is
written into the tracked tree) with their training loops shortened in
memory (see tfbook_utils/lecture.py).  For each we check what a student
would notice: no error, nothing on stderr, no warning text, the lecture's
cell tags in order, a run that ends in reasonable time, and for the
training notebooks that even the short run learned something.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from tfbook_utils import lecture

SECONDS_PER_NOTEBOOK = 240

# Quick-mode accuracy well above chance (1/10 for MNIST, 1/3 for ORENIST, 1/2 for 2-D toys).
MIN_QUICK_ACCURACY = {
    "MNIST softmax estimation": 0.80,
    "MNIST single layer network": 0.85,
    "MNIST single layer network with TensorBoard": 0.85,
    "MNIST dynamic filter classification": 0.80,
    "MNIST dynamic filter classification with TensorBoard": 0.80,
    "MNIST double layer CNN classification": 0.50,
    "Maximum likelihood estimation example": 0.75,
    "MNIST batch normalization CNN": 0.90,
    "Vanishing gradients": 0.75,  # the ReLU network's accuracy (the sigmoid one stays at chance)
    "Optimizer comparison": 0.85,
    "Overfitting and regularization": 0.70,
    "Graph mode and tf.keras": 0.85,
}

NOTEBOOKS = lecture.notebooks()


LECTURE = {
    "Chapter01": ["Least squares example"],
    "Chapter02": ["Maximum likelihood estimation example", "Comparing accuracy for training and test sets",
                  "MNIST dataset sample", "MNIST softmax estimation"],
    "Chapter03": ["Single layer network example", "Double layer network example", "MNIST single layer network",
                  "MNIST single layer network with TensorBoard"],
    "Chapter04": ["ORENIST filter example", "ORENIST classification example", "ORENIST dynamic filter example",
                  "MNIST dynamic filter classification", "MNIST dynamic filter classification with TensorBoard",
                  "MNIST dynamic filter result"],
    "Chapter05": ["MNIST double layer CNN classification", "Handwriting recognizer", "CIFAR-10 dataset samples"],
}


def test_every_lecture_notebook_is_there_under_its_title() -> None:
    for chapter, titles in LECTURE.items():
        for title in titles:
            path = lecture.CHAPTERS / chapter / f"{title}.ipynb"
            assert path.is_file(), path
            first = nbformat.read(path, as_version=4).cells[0]
            assert first.cell_type == "markdown" and first.source.startswith(f"# {title}")


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_cleanly_in_quick_mode(notebook: Path, repo_copy: Path) -> None:
    committed = nbformat.read(notebook, as_version=4)
    assert lecture.tag_problems(committed) == []

    run = lecture.execute(repo_copy / notebook.relative_to(lecture.REPO_ROOT), repo_copy, quick=True,
                          timeout=SECONDS_PER_NOTEBOOK)
    assert run.error == ""
    assert run.problems == []
    assert run.seconds < SECONDS_PER_NOTEBOOK

    minimum = MIN_QUICK_ACCURACY.get(notebook.stem)
    if minimum is not None:
        accuracy = float(re.search(r"accuracy ([0-9.]+)", run.result).group(1))
        assert accuracy >= minimum, run.result
