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

The strokes come from a browser or from a student's code, so the kernel
reads them leniently but trusts no point: numpy arrays and [x, y, pressure]
points (what a tablet or another drawing library gives) are read as [x, y]
lists, a point that is not finite numbers near the canvas is dropped on its
own, a value with nothing drawable in it is refused in one line, and a
stroke of many thousand points is thinned out before it is drawn, so that
every update takes milliseconds, not seconds.
"""

from __future__ import annotations

import math
from numbers import Real
from pathlib import Path

import anywidget
import numpy as np
import traitlets

from .errors import ArgumentError

HERE = Path(__file__).parent  # canvas.js and canvas.css, the widget's browser side
MAX_POINTS = 500  # a digit takes a few hundred points; longer scribbles are thinned out to about this many
MIN_STEP = 1.5  # pixels: closer points add nothing visible (the browser sends them 2 pixels apart or more)
SIZES = (28, 1000)  # smallest and largest canvas side in pixels


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
    reach = width / 2.0 + 1.5  # the pen's radius and its soft edge: no ink beyond
    centres = np.arange(size) + 0.5  # pixel centres, along either axis
    for stroke in strokes:
        points = np.atleast_2d(np.asarray(stroke, dtype=float))[:, :2]  # x, y (a pressure is not used)
        starts, ends = (points[:-1], points[1:]) if len(points) > 1 else (points, points)
        low = np.clip(np.floor(np.minimum(starts, ends) - reach), 0, size).astype(int).tolist()
        high = np.clip(np.ceil(np.maximum(starts, ends) + reach), 0, size).astype(int).tolist()
        for (ax, ay), (bx, by), (x0, y0), (x1, y1) in zip(starts.tolist(), ends.tolist(), low, high):
            if x0 >= x1 or y0 >= y1:
                continue  # outside the canvas
            # stroke._distance_to_segment, with plain floats for speed: pixel minus nearest point of a-b
            dx, dy = centres[x0:x1] - ax, centres[y0:y1, None] - ay
            length2 = (bx - ax) ** 2 + (by - ay) ** 2
            if length2 > 0.0:
                t = np.clip((dx * (bx - ax) + dy * (by - ay)) / length2, 0.0, 1.0)
                dx, dy = dx - t * (bx - ax), dy - t * (by - ay)
            window = image[y0:y1, x0:x1]
            # coverage falls from 1 to 0 over one pixel at the pen's edge (clipped to 1 at the end)
            np.maximum(window, width / 2.0 + 0.5 - np.hypot(dx, dy), out=window)
    return np.minimum(image, 1.0, out=image)


STROKES_FORM = (
    "canvas.strokes takes a list of strokes, each a list of [x, y] points in canvas pixels "
    "(or [x, y, pressure]; the pressure is ignored), e.g. [[[50, 60], [200, 60]]]; "
    "numpy arrays of shape (points, 2) or (points, 3) work too"
)


def _is_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _is_point(point: object) -> bool:
    """Two numbers, [x, y], or three, [x, y, pressure] (what a tablet or
    another drawing library gives): the pressure is ignored, the pen keeps its width."""
    return isinstance(point, (list, tuple, np.ndarray)) and len(point) in (2, 3) and all(map(_is_number, point))


def read_stroke(stroke: object) -> np.ndarray:
    """The stroke's readable points as an (n, 2) float array of finite x, y.
    Any other point (None, text, NaN, four numbers) is dropped alone, not its
    whole stroke.  A numpy array is read like the list it stands for."""
    if isinstance(stroke, np.ndarray):
        stroke = stroke.tolist()
    if not isinstance(stroke, (list, tuple)):
        return np.empty((0, 2))
    try:
        points = np.asarray(stroke)
    except ValueError:  # rows of different lengths
        points = np.empty(0)
    if points.ndim != 2 or points.shape[1] not in (2, 3) or points.dtype.kind not in "iuf":  # not clean rows
        points = np.array([p[:2] for p in stroke if _is_point(p)], dtype=float).reshape(-1, 2)
    points = points[:, :2].astype(float)
    return points[np.isfinite(points).all(axis=1)]


def _as_kept(stroke: object, points: np.ndarray) -> list:
    """The stroke as given when every point of it was read as it is (what the
    browser sends: a long stroke is not copied), else new lists of its points."""
    if not isinstance(stroke, list) or len(stroke) != len(points):
        return points.tolist()
    return stroke if all(isinstance(p, (list, tuple)) and len(p) == 2 for p in stroke) else points.tolist()


def read_strokes(value: object) -> list[list[list[float]]]:
    """``value`` as what ``strokes`` holds and the browser draws: lists of
    [x, y] points.  Numpy arrays become lists, [x, y, pressure] points become
    [x, y], and a single stroke given without its outer list is taken as one
    stroke.  A value with nothing to draw in it is refused in one line,
    instead of showing an empty canvas as if nothing had been drawn."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise ArgumentError(f"{STROKES_FORM}; this is {type(value).__name__} {value!r:.40}.")
    if value and all(_is_point(p) for p in value):  # one stroke: a list of points
        value = [value]
    strokes = [read_stroke(stroke) for stroke in value]
    given = [s for s in value if not isinstance(s, (list, tuple, np.ndarray)) or len(s)]
    if given and not any(len(points) for points in strokes):
        raise ArgumentError(f"{STROKES_FORM}; no point of {value!r:.60} reads as one.")
    return [_as_kept(stroke, points) for stroke, points in zip(value, strokes, strict=True)]


def valid_points(stroke: object, size: int) -> np.ndarray:
    """The stroke's readable points (``read_stroke``) that lie at most one
    canvas side outside the canvas, as an (n, 2) array."""
    points = read_stroke(stroke)
    near = (np.abs(points - size / 2.0) <= 1.5 * size).all(axis=1)
    return points[near]


def simplify(strokes: list[np.ndarray]) -> list[np.ndarray]:
    """The same drawing with fewer points: along each stroke a point is kept
    once the pen has travelled another MIN_STEP pixels (more for a scribble
    longer than MAX_POINTS such steps), and both ends always.  canvas.js
    thins what it sends the same way, so a long scribble stays a short message."""
    lengths = [np.hypot(*np.diff(points, axis=0).T).sum() for points in strokes]
    step = max(MIN_STEP, sum(lengths) / MAX_POINTS)
    simpler = []
    for points in filter(len, strokes):
        travelled = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(points, axis=0).T))])
        stage = np.floor(travelled / step)
        keep = np.concatenate([[True], stage[1:] > stage[:-1]])
        keep[-1] = True
        simpler.append(points[keep])
    return simpler


class Strokes(traitlets.TraitType):
    """The drawing's strokes.  Whatever a student's code assigns becomes plain
    lists of [x, y] points (``read_strokes``): what the browser can draw and
    the kernel can send it."""

    allow_none = False
    info_text = "a list of strokes"

    def make_dynamic_default(self) -> list:
        return []  # a new list for each canvas

    def validate(self, obj: object, value: object) -> list[list[list[float]]]:
        return read_strokes(value)


class Pixels(traitlets.TraitType):
    """A length in pixels for ``size`` and ``pen_width``: a number, or text
    that reads as one ('280').  Anything else stops with one line saying what
    to pass, instead of a traitlets traceback; the ranges are checked by the
    canvas (``_sensible_size``, ``_sensible_pen``)."""

    def __init__(self, default: float, whole: bool = False) -> None:
        super().__init__(default)
        self.whole = whole

    def validate(self, obj: object, value: object) -> float | int:
        number = _as_number(value)
        if number is None or (self.whole and math.isnan(number)):
            example = "280 (from 28 to 1000)" if self.whole else "20"
            raise ArgumentError(f"The canvas's {self.name} is a number of pixels such as {example}, not {value!r:.40}.")
        return round(number) if self.whole and math.isfinite(number) else number


def _as_number(value: object) -> float | None:
    """A number, or text that reads as one ('280'), as a float; None for anything else."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return float(value) if _is_number(value) else None


class DrawingCanvas(anywidget.AnyWidget):
    """A white square to draw on with a round black pen, and a Clear button.

    ``strokes`` follows the drawing while it is made; ``drawing()`` is it as
    an image (ink 1 on 0) at the canvas's full resolution.
    """

    _esm = HERE / "canvas.js"
    _css = HERE / "canvas.css"
    strokes = Strokes().tag(sync=True)  # [[[x, y], ...], ...] in canvas pixels
    size = Pixels(280, whole=True).tag(sync=True)  # side in CSS pixels
    pen_width = Pixels(20.0).tag(sync=True)  # pen diameter in CSS pixels
    sync_interval_ms = traitlets.Int(100).tag(sync=True)

    @traitlets.validate("size")
    def _sensible_size(self, proposal: dict) -> int:
        size = proposal["value"]
        clamped = min(max(size, SIZES[0]), SIZES[1])
        if clamped != size:
            print(f"A canvas of {size:g} pixels does not work: using {clamped} "
                  f"(sizes from {SIZES[0]} to {SIZES[1]} do).")
        return round(clamped)

    @traitlets.validate("pen_width")
    def _sensible_pen(self, proposal: dict) -> float:
        """A pen wider than a quarter of the canvas leaves no room for a
        digit's loops: the whole canvas turns black.  Too wide, too thin or
        not a number: the nearest sensible width, and one line saying so."""
        width, widest = proposal["value"], self.size / 4.0
        fitted = 20.0 if math.isnan(width) else min(max(width, 1.0), widest)
        if fitted != width:
            print(f"A pen {width:g} pixels wide does not fit a {self.size:g}-pixel canvas: using {fitted:g} "
                  f"(from 1 to a quarter of the canvas, {widest:g}).")
        return fitted

    def stroke_arrays(self) -> list[np.ndarray]:
        """The strokes as (n, 2) float arrays of their valid points (they
        come from a browser: see ``valid_points``); empty strokes are left out."""
        arrays = [valid_points(stroke, self.size) for stroke in self.strokes]
        return [points for points in arrays if len(points)]

    def drawing(self) -> np.ndarray:
        """The strokes rendered at full canvas resolution, ink 1 on 0."""
        return render(simplify(self.stroke_arrays()), self.size, self.pen_width)

    def clear(self) -> None:
        """Wipe the canvas (the same as its Clear button)."""
        self.strokes = []
