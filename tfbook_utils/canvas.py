"""A canvas to draw a digit on with the mouse, a pen or a finger.

The lecture's notebook drew on an HTML canvas and sent the pixels to the
kernel with ``IPython.notebook.kernel.execute``, an object that JupyterLab
and Notebook 7 no longer have.  This is an anywidget instead: a small
JavaScript module (below) that runs in any current Jupyter front end and
shares its state with the kernel through a traitlet.

What is shared is the strokes, not pixels: a list of strokes, each a list
of [x, y] points in canvas pixels (CSS pixels, so the same on a high-DPI
screen).  They are sent while drawing (every ``sync_interval_ms``) and when
the pen is lifted, so a prediction can follow the pen.  The kernel renders
them at full resolution with the same round pen (``drawing()``); shrinking
to 28x28 is left to ``recognizer.preprocess``, which does it the MNIST way.
"""

from __future__ import annotations

import anywidget
import numpy as np
import traitlets

from .stroke import draw_strokes

_ESM = r"""
const copy = (strokes) =>
  (Array.isArray(strokes) ? strokes : [])
    .filter((s) => Array.isArray(s))
    .map((s) => s.filter((q) => Array.isArray(q) && q.length >= 2).map((q) => [+q[0], +q[1]]));

function render({ model, el }) {
  const size = model.get("size");
  const root = document.createElement("div");
  root.className = "tfbook-canvas";
  const canvas = document.createElement("canvas");
  canvas.style.width = `${size}px`;
  canvas.style.height = `${size}px`;
  canvas.style.touchAction = "none"; // a finger draws instead of scrolling the page
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Clear";
  root.append(canvas, button);
  el.append(root);
  const ctx = canvas.getContext("2d");

  let strokes = copy(model.get("strokes"));
  let current = null; // the stroke being drawn
  let pointerId = null; // the one pointer that draws (mouse, pen or first finger)
  let timer = null;
  let lastSync = 0;

  function fitToScreen() {
    // Back the canvas with device pixels so the ink is sharp on high-DPI screens.
    const dpr = window.devicePixelRatio || 1;
    const side = Math.round(size * dpr);
    if (canvas.width !== side || canvas.height !== side) {
      canvas.width = side;
      canvas.height = side;
    }
    ctx.setTransform(side / size, 0, 0, side / size, 0, 0);
  }

  function trace(points) {
    // A smooth curve through the midpoints, like a pen, not a polyline.
    const [x0, y0] = points[0];
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    if (points.length === 1) {
      ctx.lineTo(x0 + 0.01, y0); // a dot
    } else {
      for (let i = 1; i < points.length - 1; i++) {
        const [x, y] = points[i];
        const [nx, ny] = points[i + 1];
        ctx.quadraticCurveTo(x, y, (x + nx) / 2, (y + ny) / 2);
      }
      const [xl, yl] = points[points.length - 1];
      ctx.lineTo(xl, yl);
    }
    ctx.stroke();
  }

  function redraw() {
    fitToScreen();
    ctx.fillStyle = "white";
    ctx.fillRect(0, 0, size, size);
    ctx.strokeStyle = "black";
    ctx.lineWidth = model.get("pen_width");
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const points of strokes) {
      if (points.length > 0) trace(points);
    }
  }

  function pointOf(event) {
    // Client pixels to canvas pixels, also when the page is zoomed or scaled.
    const box = canvas.getBoundingClientRect();
    const clamp = (v) => Math.min(Math.max(v, 0), size);
    // measure inside the 2 px border; scale covers page zoom and CSS transforms
    const scaleX = box.width / (canvas.offsetWidth || box.width || 1);
    const scaleY = box.height / (canvas.offsetHeight || box.height || 1);
    const innerW = (canvas.clientWidth || box.width / scaleX || size) * scaleX;
    const innerH = (canvas.clientHeight || box.height / scaleY || size) * scaleY;
    const x = clamp(((event.clientX - box.left - (canvas.clientLeft || 0) * scaleX) * size) / innerW);
    const y = clamp(((event.clientY - box.top - (canvas.clientTop || 0) * scaleY) * size) / innerH);
    return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
  }

  function sync() {
    clearTimeout(timer);
    timer = null;
    lastSync = performance.now();
    model.set("strokes", copy(strokes));
    model.save_changes();
  }

  function syncSoon() {
    // At most one message per interval while the pen moves.
    if (timer !== null) return;
    const wait = Math.max(0, model.get("sync_interval_ms") - (performance.now() - lastSync));
    timer = setTimeout(sync, wait);
  }

  function start(event) {
    if (pointerId !== null || (event.pointerType === "mouse" && event.button !== 0)) return;
    event.preventDefault();
    pointerId = event.pointerId;
    try {
      canvas.setPointerCapture(event.pointerId); // keep the stroke when the pen leaves the canvas
    } catch (error) {
      // the pointer is already gone; the stroke still works inside the canvas
    }
    current = [pointOf(event)];
    strokes.push(current);
    redraw();
    syncSoon();
  }

  function move(event) {
    if (event.pointerId !== pointerId || current === null) return;
    event.preventDefault();
    const coalesced = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const e of coalesced.length > 0 ? coalesced : [event]) {
      const q = pointOf(e);
      const last = current[current.length - 1];
      if (Math.hypot(q[0] - last[0], q[1] - last[1]) >= 2) current.push(q);
    }
    redraw();
    syncSoon();
  }

  function end(event) {
    if (event.pointerId !== pointerId) return;
    pointerId = null;
    current = null;
    sync();
  }

  function clear() {
    strokes = [];
    current = null;
    pointerId = null;
    redraw();
    sync();
  }

  function fromKernel() {
    // The kernel changed the strokes (clear(), a sample digit); never mid-stroke.
    if (pointerId !== null) return;
    strokes = copy(model.get("strokes"));
    redraw();
  }

  canvas.addEventListener("pointerdown", start);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("lostpointercapture", end);
  button.addEventListener("click", clear);
  model.on("change:strokes", fromKernel);
  model.on("change:pen_width", redraw);
  const screen = () => redraw();
  window.addEventListener("resize", screen); // devicePixelRatio changes with zoom and screens
  redraw();

  return () => {
    clearTimeout(timer);
    window.removeEventListener("resize", screen);
    model.off("change:strokes", fromKernel);
    model.off("change:pen_width", redraw);
  };
}

export default { render };
"""

_CSS = """
.tfbook-canvas { display: inline-flex; flex-direction: column; align-items: flex-start; gap: 6px; }
.tfbook-canvas canvas { border: 2px solid #666; background: white; cursor: crosshair;
  touch-action: none; user-select: none; -webkit-user-select: none; }
.tfbook-canvas button { padding: 2px 14px; font-size: 14px; cursor: pointer; }
"""


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

    _esm = _ESM
    _css = _CSS
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
