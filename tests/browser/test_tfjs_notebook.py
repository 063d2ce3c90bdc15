"""The TensorFlow.js notebook in quick mode, run as ``tfbook.py lecture --quick TFJS`` runs it.

A kernel alone cannot run it (TensorFlow.js trains in the page), so the
runner opens it in JupyterLab in headless Chromium and Runs All
(``course_tools/browser_runner.py``).  While it runs, the widget's plot and
progress line are sampled from the page.  Checked, as a student would see it:

* the notebook runs cleanly (no error, nothing on stderr, tags in order);
* the plot grew batch by batch while the browser trained (many partial
  counts, in order, up to every batch of the shortened run), under a
  progress line "訓練中... (xx% 完了 ...)", and the test accuracy follows;
* the kernel heard every batch and printed the backend and an accuracy well
  above chance (the catalog's ``min_quick_accuracy``; 0.1 is chance).

(This is the notebook's quick-mode test: tests/test_notebooks.py leaves
browser notebooks to this file.)
"""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

from course_tools import catalog, checks, runner
from course_tools.browser_runner import QUICK_BATCHES
from course_tools.runner import NotebookRun, copy_repository

from .conftest import artefact

NOTEBOOK = catalog.by_tag("TFJS")
SECONDS = 600
WIDGET = """() => {
    const plot = document.querySelector('.tfbook-tfjs canvas');
    const text = document.querySelector('.tfbook-tfjs-progress');
    return plot ? {points: +(plot.dataset.points || 0), text: text.innerText} : null;
}"""


@pytest.mark.browser
@pytest.mark.notebook
def test_tfjs_notebook_trains_in_the_browser_with_a_live_plot(tmp_path_factory: pytest.TempPathFactory) -> None:
    repo = copy_repository(tmp_path_factory.mktemp("tfjs") / "repo")
    samples: list[dict] = []
    page_errors: list[str] = []
    outcome: dict[str, object] = {}

    def watch(page) -> None:
        if not samples and not page_errors:
            page.on("pageerror", lambda error: page_errors.append(str(error)))
        if (seen := page.evaluate(WIDGET)) is not None:
            samples.append({"t": round(time.monotonic(), 2), **seen})

    def run() -> None:  # in a thread of its own: Playwright's sync API may already run in this one
        try:
            outcome["run"] = runner.execute(repo / NOTEBOOK.relative_path, repo, quick=True, timeout=SECONDS,
                                            watch=watch)
        except Exception as error:  # noqa: BLE001 - reported below
            outcome["run"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    artefact("tfjs-quick-samples.json").write_text(json.dumps(samples[-40:], ensure_ascii=False, indent=1))
    result = outcome["run"]
    if isinstance(result, Exception):
        raise result
    assert isinstance(result, NotebookRun)
    assert result.error == "" and result.problems == [], (result.error, result.problems)
    assert result.seconds < SECONDS

    points = [s["points"] for s in samples]
    assert points == sorted(points), "the plot never loses points"
    assert max(points) == QUICK_BATCHES
    partial = {p for p in points if 0 < p < QUICK_BATCHES}
    assert len(partial) >= 5, f"the plot must grow while the browser trains, seen: {sorted(partial)}"
    during = [s["text"] for s in samples if 0 < s["points"] < QUICK_BATCHES]
    assert any(re.search(r"訓練中\.\.\. \(\d+\.\d% 完了", text) for text in during), during[-1:]
    assert "テスト用データの正解率" in samples[-1]["text"]

    said = "".join(text for cell in result.executed.cells if cell.cell_type == "code"
                   for _, text in checks.outputs_text(cell))
    assert re.search(r"backend: (webgl|cpu|wasm)", said)
    assert f"batches: {QUICK_BATCHES}" in said  # the kernel heard every batch
    accuracy = float(re.search(r"accuracy ([0-9.]+)", result.result).group(1))
    assert accuracy >= NOTEBOOK.min_quick_accuracy, result.result
    assert page_errors == []
