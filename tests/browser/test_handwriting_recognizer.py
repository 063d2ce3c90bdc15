"""The handwriting recognizer in a real browser, as a student uses it.

In JupyterLab and in Notebook 7: open the notebook, Run All from the Run
menu, draw digits on the canvas with the mouse (a 1, a 7 and a small 0 in
a corner), and check what the student sees:

* the prediction appears while the pen is still down (no cell re-run);
* it is the digit drawn, in the page and in the kernel (``live``), and
  the page shows the kernel's numbers;
* Clear brings back the "draw a digit" message and empties ``canvas``.

Run All stops at [HWR-08] with the one-line ``EmptyDrawing`` message (the
canvas is empty at that point); after drawing, [HWR-08] and the cells below
run cleanly.  Screenshots of the canvas with the 28x28 input and the
probability bars go to build/test-artifacts/browser/.

The network is the shipped ``checkpoints/cnn_session-20000`` of the copy
the server serves.
"""

from __future__ import annotations

import json
import math
import re
import time

import pytest
from playwright.sync_api import Locator, Page

from course_tools import catalog

from .conftest import artefact
from .drawing import DIGITS, EMPTY_MESSAGE, SEVEN, UPDATE_MS, draw, panel_state, to_page, widgets
from .jupyter import (
    ERROR_OUTPUT,
    JupyterServer,
    KernelProbe,
    code_cell,
    error_outputs,
    last_execution_count,
    open_notebook,
    run_all,
    wait_for_run,
    write_quick_notebook,
)

NOTEBOOK = catalog.by_tag("HWR").relative_path
RUN_MS = 120_000
def kernel_view(probe: KernelProbe) -> dict:
    return probe.value(
        "{'points': [len(s) for s in canvas.strokes],"
        " 'last': canvas.strokes[-1][-1] if canvas.strokes and canvas.strokes[-1] else None,"
        " 'p': None if live.probabilities is None else [round(float(q), 4) for q in live.probabilities],"
        " 'image': None if live.probabilities is None else [float(live.image.min()), float(live.image.max()),"
        " int(live.image.size), float(live.image.sum())]}"
    )


def wait_for_kernel(probe: KernelProbe, end: tuple[float, float], timeout: float = 10) -> dict:
    """Until the kernel has the whole drawing (its last point is where the pen was lifted)."""
    deadline = time.monotonic() + timeout
    while True:
        view = kernel_view(probe)
        last = view["last"]
        if last is not None and math.dist(last, end) < 3 and view["p"] is not None:
            return view
        if time.monotonic() > deadline:
            raise AssertionError(f"the kernel never got the whole stroke (ends at {end}): {view}")
        time.sleep(0.1)


def clear(side: Locator, canvas_box: Locator, probe: KernelProbe) -> None:
    canvas_box.locator(".tfbook-canvas button", has_text="Clear").click()
    side.get_by_text(EMPTY_MESSAGE).wait_for(timeout=UPDATE_MS)
    deadline = time.monotonic() + 10
    while (view := kernel_view(probe))["points"] or view["p"] is not None:
        assert time.monotonic() < deadline, view
        time.sleep(0.1)


@pytest.mark.browser
@pytest.mark.parametrize("front_end", ["lab", "notebook7"])
def test_recognizer_follows_the_pen(front_end: str, page: Page, browser_repo, request) -> None:
    server: JupyterServer = request.getfixturevalue(front_end)
    write_quick_notebook(browser_repo, NOTEBOOK)
    panel = open_notebook(page, server, NOTEBOOK)
    run_all(page)
    wait_for_run(page, RUN_MS)

    # Run All stops at [HWR-08], the first cell that reads the (empty) drawing, with one friendly line
    errors = error_outputs(panel)
    assert len(errors) == 1 and errors[0].startswith("EmptyDrawing: The canvas is empty"), errors
    assert code_cell(panel, "HWR-08").locator(ERROR_OUTPUT).count() == 1

    box, canvas, side = widgets(panel)
    canvas.wait_for(timeout=10_000)
    assert canvas.evaluate("(c) => [c.clientWidth, c.clientHeight]") == [280, 280]
    assert panel_state(side)["empty"]

    probe = KernelProbe(server.connection_file(NOTEBOOK))
    timings = {}
    try:
        for name, strokes in DIGITS:
            expected = int(name[0])
            timings[name] = draw(page, canvas, side, strokes)
            end = stroke_end(canvas, strokes[-1][-1])
            view = wait_for_kernel(probe, end)
            kernel_digit = max(range(10), key=lambda d: view["p"][d])
            assert kernel_digit == expected, (name, view["p"])
            assert view["image"][2] == 784 and view["image"][1] == pytest.approx(1.0), view["image"]
            # the page shows the kernel's latest result: its prediction and its ten bars
            page.wait_for_function(
                "([el, d]) => /prediction:\\s*" + str(expected) + "/.test(el.innerText)",
                arg=[side.element_handle(), expected], timeout=UPDATE_MS,
            )
            shown = panel_state(side)
            assert shown["prediction"] == expected
            assert shown["image"].startswith("data:image/png;base64,")
            assert shown["bars"] == pytest.approx([round(q, 2) for q in view["p"]], abs=0.0101)
            box.screenshot(path=artefact(f"hwr-{front_end}-{name}.png"))
            clear(side, box, probe)

        box.screenshot(path=artefact(f"hwr-{front_end}-cleared.png"))

        # Draw again, then run [HWR-08] and everything below it, as the notebook says
        draw(page, canvas, side, SEVEN)
        wait_for_kernel(probe, stroke_end(canvas, SEVEN[-1][-1]))
        before = last_execution_count(page)
        run_from(page, code_cell(panel, "HWR-08"))
        wait_for_run(page, RUN_MS, after=before)
        assert error_outputs(panel) == []
        assert code_cell(panel, "HWR-08").locator(".jp-OutputArea-output img").count() == 1  # the bar chart
    finally:
        probe.close()
        report = {"timings": timings, "page_problems": page.problems}
        artefact(f"hwr-{front_end}-timings.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
        page.screenshot(path=artefact(f"hwr-{front_end}-page.png"))

    assert [p for p in page.problems if "page error" in p and not known_harmless(front_end, p)] == []
    for name, timing in timings.items():
        assert timing["updates_before_pen_up"] >= 1, (name, timing)


def stroke_end(canvas: Locator, point: tuple[float, float]) -> tuple[float, float]:
    """Where the canvas's own code places ``point``: today it maps the
    border-box (284 px) to 0..280, so a point lands up to 2 px from where it
    was aimed; the 3 px tolerance of ``wait_for_kernel`` covers either way."""
    x, y = to_page(canvas, point)
    box = canvas.bounding_box()
    return ((x - box["x"]) * 280 / box["width"], (y - box["y"]) * 280 / box["height"])


def run_from(page: Page, cell: Locator) -> None:
    """Select ``cell`` and Run → Run Selected Cell and All Below."""
    cell.locator(".jp-InputArea-prompt").first.click()
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator('.lm-Menu-item[data-command="notebook:run-all-below"]').first.click()


def known_harmless(front_end: str, problem: str) -> bool:
    # Notebook 7's own bundle logs this on every page load
    return front_end == "notebook7" and re.search(r"reading 'schema'", problem) is not None
