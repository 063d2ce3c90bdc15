"""Drawing on the handwriting recognizer's canvas with the mouse, as a student does.

Shared by the browser tests (JupyterLab, Notebook 7) and the hub's class
test: where the recognizer's widgets are, what its panel shows, and a
stroke drawn at a hand's pace that waits for the prediction while the pen
is still down.
"""

from __future__ import annotations

import math

from playwright.sync_api import Locator, Page

UPDATE_MS = 5_000  # a prediction must follow the pen well within this (typically ~0.3 s)
EMPTY_MESSAGE = "draw one digit on the canvas"

# Digits as strokes in canvas pixels (the canvas is 280 x 280).
ONE = [[(150, 45), (146, 100), (142, 160), (138, 235)]]
SEVEN = [[(75, 55), (140, 52), (205, 50), (175, 110), (145, 170), (120, 235)]]
ZERO_OFF_CENTRE = [[(70 + 38 * math.sin(a), 85 - 52 * math.cos(a))  # small, in the top-left corner
                    for a in (2 * math.pi * k / 24 for k in range(26))]]
DIGITS = [("1", ONE), ("7", SEVEN), ("0-off-centre", ZERO_OFF_CENTRE)]

PANEL_STATE = """(el, emptyMessage) => {
    const text = el.innerText;
    const m = text.match(/prediction:\\s*(\\d)/);
    return {prediction: m ? +m[1] : null, empty: text.includes(emptyMessage),
            image: (el.querySelector('img') || {}).src || null,
            bars: [...el.querySelectorAll('div')].filter((d) => /^\\d\\.\\d\\d$/.test(d.textContent.trim())
                                                          && d.children.length === 0).map((d) => +d.textContent)};
}"""

# Records every change of the panel with a timestamp, to see updates during a stroke.
WATCH = """(el) => {
    window.__tfbookPanelLog = [];
    const note = () => {
        const m = el.innerText.match(/prediction:\\s*(\\d)/);
        window.__tfbookPanelLog.push({t: performance.now(), prediction: m ? +m[1] : null});
    };
    new MutationObserver(note).observe(el, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def widgets(panel: Locator) -> tuple[Locator, Locator, Locator]:
    """The recognizer's box, its canvas and the panel beside it (ipywidgets HTML)."""
    canvas = panel.locator(".tfbook-canvas canvas").first
    box = panel.locator(".widget-hbox", has=panel.page.locator(".tfbook-canvas")).last
    return box, canvas, box.locator(".widget-html").first


def panel_state(side: Locator) -> dict:
    return side.evaluate(PANEL_STATE, EMPTY_MESSAGE)


def to_page(canvas: Locator, point: tuple[float, float]) -> tuple[float, float]:
    """Canvas pixels to page coordinates (inside the canvas's 2 px border)."""
    box = canvas.bounding_box()
    border = canvas.evaluate("(c) => c.clientLeft")
    scale = canvas.evaluate("(c) => c.clientWidth") / 280
    return box["x"] + border + point[0] * scale, box["y"] + border + point[1] * scale


def draw(page: Page, canvas: Locator, side: Locator, strokes: list[list[tuple[float, float]]],
         update_ms: int = UPDATE_MS) -> dict:
    """Draw with the mouse at a hand's pace; before the pen is lifted, wait
    (up to ``update_ms``) for the panel to show a prediction.  Returns timings in ms."""
    canvas.scroll_into_view_if_needed()
    side.evaluate(WATCH)
    started = page.evaluate("performance.now()")
    for number, stroke in enumerate(strokes):
        points = [to_page(canvas, p) for p in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=4)
            page.wait_for_timeout(25)  # a hand takes about half a second per digit
        if number == len(strokes) - 1:
            # the pen is still down: the prediction must already be there
            page.wait_for_function(
                "() => window.__tfbookPanelLog.some((e) => e.prediction !== null)", timeout=update_ms
            )
        lifted = page.evaluate("performance.now()")
        page.mouse.up()
    log = page.evaluate("window.__tfbookPanelLog")
    first = next(e["t"] for e in log if e["prediction"] is not None)
    return {"first_prediction_ms": round(first - started), "pen_up_ms": round(lifted - started),
            "updates_before_pen_up": sum(1 for e in log if e["t"] < lifted)}
