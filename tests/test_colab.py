"""The Colab setup cell: nothing locally; in (simulated) Colab it clones the
repository at the right version, installs tfbook_utils without its
dependencies (Colab's TensorFlow stays) and moves into the chapter folder."""

from __future__ import annotations

import os
import subprocess
import sys
import types

import nbformat
import pytest

from course_tools import catalog, colab

NOTEBOOKS = [n.path for n in catalog.COURSE]


def setup_cell(notebook) -> str:
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    return code[0].source


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_starts_with_the_current_setup_cell(notebook) -> None:
    nb = nbformat.read(notebook, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert nb.cells[1].cell_type == "code"
    assert nb.cells[1].source == colab.setup_cell_source(notebook.parent.name)


def run_cell(source: str, monkeypatch, tmp_path, in_colab: bool, already_cloned: bool):
    calls: list[list[str]] = []
    home = tmp_path / "content" / "tfbook"
    if already_cloned:
        (home / "chapters" / "Chapter05").mkdir(parents=True)

    def fake_run(command, check=False):
        calls.append(command)
        if command[:2] == ["git", "clone"]:
            (home / "chapters" / "Chapter05").mkdir(parents=True)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(sys, "path", list(sys.path))
    if in_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.chdir(tmp_path)
    exec(source.replace(colab.COLAB_HOME, str(home)), {})
    return calls, home


def test_locally_the_cell_does_nothing(monkeypatch, tmp_path) -> None:
    calls, _ = run_cell(colab.setup_cell_source("Chapter05"), monkeypatch, tmp_path, in_colab=False,
                        already_cloned=False)
    assert calls == []
    assert os.getcwd() == str(tmp_path)


def test_in_colab_it_clones_the_tagged_version_installs_without_deps_and_changes_folder(monkeypatch, tmp_path) -> None:
    calls, home = run_cell(colab.setup_cell_source("Chapter05"), monkeypatch, tmp_path, in_colab=True,
                           already_cloned=False)
    clone, install, widget = calls
    assert clone[:2] == ["git", "clone"] and colab.REF in clone and colab.REPO_URL in clone
    assert "--no-deps" in install and install[-1] == str(home)
    assert not any("tensorflow" in part for part in install + widget)
    assert os.getcwd() == str(home / "chapters" / "Chapter05")
    assert str(home) in sys.path


def test_in_colab_a_second_run_does_not_clone_again(monkeypatch, tmp_path) -> None:
    calls, home = run_cell(colab.setup_cell_source("Chapter05"), monkeypatch, tmp_path, in_colab=True,
                           already_cloned=True)
    assert calls == []
    assert os.getcwd() == str(home / "chapters" / "Chapter05")


def test_colab_links_point_at_the_same_version() -> None:
    notebook = catalog.by_tag("HWR")
    url = colab.colab_url(notebook.relative_path)
    assert url.startswith("https://colab.research.google.com/github/")
    assert url.endswith(f"/blob/{colab.REF}/{notebook.relative_path.replace(' ', '%20')}")
