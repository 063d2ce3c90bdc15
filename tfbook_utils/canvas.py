"""A canvas to draw a digit on with the mouse, a pen or a finger.

The lecture's notebook drew on an HTML canvas and sent the pixels to the
kernel with ``IPython.notebook.kernel.execute``, an object that JupyterLab
and Notebook 7 no longer have.  This is an anywidget instead: a small
JavaScript module (``canvas.js``, styled by ``canvas.css``) that runs in any current Jupyter front end and
shares its state with the kernel through a traitlet.

What is shared is the strokes, not pixels: a list of strokes, each a list
of [x, y] points in canvas pixels (CSS pixels, so the same on a high-DPI
screen).  They are sent while drawing (every ``sync_interval_ms``) and when
the pen is lifted, so a prediction can follow the pen.  The kernel renders
them at full resolution with the same round pen (``drawing()``); shrinking
to 28x28 is left to ``recognizer.preprocess``, which does it the MNIST way.
"""

from __future__ import annotations

from pathlib import Path

import anywidget
import numpy as np
import traitlets

from .stroke import draw_strokes

HERE = Path(__file__).parent  # canvas.js and canvas.css, the widget's browser side


def _sample_strokes() -> list[list[list[float]]]:
    """A handwritten-looking 3 for runs without a browser: two arcs."""

    def arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float) -> list[list[float]]:
        t = np.radians(np.linspace(start, stop, 40))
        return np.round(np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1), 1).tolist()

    return [arc(138, 94, 50, 44, 195, 445) + arc(136, 181, 56, 47, 272, 520)[1:]]


SAMPLE_STROKES = _sample_strokes()


def render(strokes: list[np.ndarray], size: int, width: float) -> np.ndarray:
    """``stroke.draw_strokes`` on a size x size canvas, computed segment by
    segment in the small window each one can reach: the same image, but fast
    enough to redraw while the student is drawing."""
    image = np.zeros((size, size))
    reach = width / 2.0 + 1.5
    for stroke in strokes:
        points = np.asarray(stroke, dtype=float).reshape(-1, 2)
        segments = list(zip(points[:-1], points[1:])) if len(points) > 1 else [(points[0], points[0])]
        for a, b in segments:
            x0, y0 = np.maximum(np.floor(np.minimum(a, b) - reach).astype(int), 0)
            x1, y1 = np.minimum(np.ceil(np.maximum(a, b) + reach).astype(int), size)
            if x0 >= x1 or y0 >= y1:
                continue
            corner = np.array([x0, y0], dtype=float)
            patch = draw_strokes([np.stack([a - corner, b - corner])], (y1 - y0, x1 - x0), width)
            np.maximum(image[y0:y1, x0:x1], patch, out=image[y0:y1, x0:x1])
    return image


class DrawingCanvas(anywidget.AnyWidget):
    """A white square to draw on with a round black pen, and a Clear button.

    ``strokes`` follows the drawing while it is made; ``drawing()`` is it as
    an image (ink 1 on 0) at the canvas's full resolution.
    """

    _esm = HERE / "canvas.js"
    _css = HERE / "canvas.css"
    strokes = traitlets.List().tag(sync=True)  # [[[x, y], ...], ...] in canvas pixels
    size = traitlets.Int(280).tag(sync=True)  # side in CSS pixels
    pen_width = traitlets.Float(20.0).tag(sync=True)  # pen diameter in CSS pixels
    sync_interval_ms = traitlets.Int(100).tag(sync=True)

    def stroke_arrays(self) -> list[np.ndarray]:
        """The strokes as (n, 2) float arrays; anything malformed is skipped
        (the strokes come from a browser)."""
        arrays = []
        for stroke in self.strokes:
            try:
                points = np.asarray(stroke, dtype=float).reshape(-1, 2)
            except (TypeError, ValueError):
                continue
            points = points[np.isfinite(points).all(axis=1)]
            if len(points):
                arrays.append(points)
        return arrays

    def drawing(self) -> np.ndarray:
        """The strokes rendered at full canvas resolution, ink 1 on 0."""
        return render(self.stroke_arrays(), self.size, self.pen_width)

    def clear(self) -> None:
        """Wipe the canvas (the same as its Clear button)."""
        self.strokes = []
