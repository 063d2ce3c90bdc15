"""Smoke tests in JupyterLab: a notebook runs from the Run menu (quick
version) without an error in the page, and shows what it must show.

* a TensorBoard notebook: the dashboard frame of ``%tensorboard`` appears
  and TensorBoard answers inside it;
* the Playground notebook: no error output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from course_tools import catalog

from .conftest import artefact
from .jupyter import error_outputs, open_notebook, run_all, wait_for_run, write_quick_notebook

TENSORBOARD_NOTEBOOK = catalog.by_tag("MST").relative_path
PLAYGROUNDS = [catalog.by_tag("PLG").relative_path]
RUN_MS = 150_000


def run_in_lab(page, lab, repo: Path, relative: str):
    write_quick_notebook(repo, relative)
    panel = open_notebook(page, lab, relative)
    run_all(page)
    wait_for_run(page, RUN_MS)
    assert error_outputs(panel) == []
    return panel


@pytest.mark.browser
def test_tensorboard_notebook_shows_its_dashboard(page, lab, browser_repo: Path) -> None:
    panel = run_in_lab(page, lab, browser_repo, TENSORBOARD_NOTEBOOK)
    frame = panel.locator(".jp-OutputArea-output iframe").last
    frame.wait_for(timeout=30_000)
    src = frame.get_attribute("src") or ""
    assert src.startswith(("http://127.0.0.1:", "http://localhost:")), src
    # TensorBoard itself answers in the frame (its app shell, with its name)
    panel.frame_locator(".jp-OutputArea-output iframe").last.locator("text=TensorBoard").first.wait_for(
        timeout=30_000
    )
    frame.scroll_into_view_if_needed()
    page.screenshot(path=artefact("tensorboard-lab.png"))


if PLAYGROUNDS:  # no playground notebook, no test (rather than a skipped empty one)

    @pytest.mark.browser
    @pytest.mark.parametrize("relative", PLAYGROUNDS, ids=[Path(p).stem for p in PLAYGROUNDS])
    def test_playground_runs_without_errors(page, lab, browser_repo: Path, relative: str) -> None:
        run_in_lab(page, lab, browser_repo, relative)
        page.screenshot(path=artefact(f"{Path(relative).stem}-lab.png"), full_page=True)
