"""How long the handwriting recognizer takes on the largest drawings a student can make.

Not the lecture's canvas digit (the main bench's ``recognizer`` row times
that), but what a student's code or a long scribble hands it:

* a 4000x4000 and a 2000x2000 image of a thin circle through
  ``recognizer.preprocess`` (it averages ink larger than the 280-pixel
  canvas down first, then does the MNIST steps);
* a stroke of 100,000 points (a '3'), and a scribble of 100,000 points, in
  the canvas's live update: ``LiveRecognizer``'s update when the strokes
  change (``canvas.drawing()``, which thins the points, then
  ``preprocess`` and the panel; the network is a stand-in that answers at
  once, its own time is the main bench's ``recognizer`` row); then the
  whole message from the browser (``set_state``, ipywidgets' own handling
  included) as canvas.js sends it, thinned the same way; and the 100,000
  points set by code (``canvas.strokes = ...``), where ipywidgets also
  sends them to the browser.

Each is timed ``ROUNDS`` times and the best round counts (slower rounds
measure other work on a shared machine, as ``timeit`` advises); the median
and the machine's load average are reported beside it, and the CPU time
the process itself used (what the drawing costs when no other work
competes for the cores).  The target is ``TARGET_S`` per drawing.

``python -m course_tools.bench.drawings`` prints the markdown lines.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import numpy as np

ROUNDS = 5
TARGET_S = 0.5
POINTS = 100_000


def thin_circle(side: int, pen: float = 4.0) -> np.ndarray:
    """A '0': a circle 70 % of the image wide, drawn with a ``pen``-pixel pen, anti-aliased."""
    rows, cols = np.ogrid[0:side, 0:side]
    radius = np.hypot(rows + 0.5 - side / 2, cols + 0.5 - side / 2)
    return np.clip(pen / 2 + 0.5 - np.abs(radius - 0.35 * side), 0.0, 1.0)


def dense_stroke(points: int = POINTS) -> list[list[float]]:
    """A '3' as one stroke of ``points`` points, a few thousandths of a pixel apart
    (as a pen tablet sampling fast, or a student's code, might send it)."""
    t = np.linspace(0.0, 1.0, points)
    angle = np.where(t < 0.5, np.radians(200 + 250 * 2 * t), np.radians(272 + 248 * (2 * t - 1)))
    x = np.where(t < 0.5, 138 + 50 * np.cos(angle), 136 + 56 * np.cos(angle))
    y = np.where(t < 0.5, 94 + 44 * np.sin(angle), 181 + 47 * np.sin(angle))
    return np.stack([x, y], axis=1).tolist()


def scribble(points: int = POINTS, seed: int = 0) -> list[list[float]]:
    """A scribble of ``points`` points over the whole canvas: a random walk, 2 to 3 pixels a step."""
    steps = np.random.default_rng(seed).normal(0.0, 2.0, size=(points, 2))
    return np.clip(140 + np.cumsum(steps, axis=0), 0, 280).round(1).tolist()


class _InstantNetwork:
    """Stands in for ``tf.Session``: ten equal probabilities, at once."""

    def run(self, fetch: object, feed_dict: dict) -> np.ndarray:
        return np.full((1, 10), 0.1)


def _timed(action: Callable[[], None], rounds: int, before: Callable[[], None] = lambda: None) -> dict:
    """Wall-clock seconds (best and median) and this process's CPU seconds (best) over ``rounds``."""
    wall, cpu = [], []
    for _ in range(rounds):
        before()
        start, start_cpu = time.perf_counter(), time.process_time()
        action()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"best_s": min(wall), "median_s": statistics.median(wall), "cpu_s": min(cpu), "rounds": rounds}


def measure(rounds: int = ROUNDS) -> dict:
    """Time each drawing; returns ``{name: {"what", "path", "best_s", "median_s", "cpu_s", "rounds", "outcome"}}``
    plus ``"load"`` (the 1-minute load average before and after, where the system has one)."""
    import tfbook_utils  # noqa: F401  (quiet TensorFlow's import, which ipywidgets may trigger)
    from tfbook_utils.canvas import DrawingCanvas, simplify
    from tfbook_utils.errors import TfbookError
    from tfbook_utils.recognizer import LiveRecognizer, preprocess

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    results: dict = {}
    for side in (4000, 2000):
        image = thin_circle(side)
        results[f"circle_{side}"] = {
            "what": f"{side}x{side} thin circle", "path": "`preprocess`",
            **_timed(lambda image=image: preprocess(image), rounds),
            "outcome": "28x28 image",
        }

    canvas = DrawingCanvas()
    live = LiveRecognizer(canvas, _InstantNetwork(), "p", "x", "keep_prob", announce=lambda _: None)

    def outcome() -> str:
        try:
            live.image  # noqa: B018  (what the update made of the drawing)
        except TfbookError as problem:
            return f"one line: {type(problem).__name__}"
        return "28x28 image"

    for name, what, stroke in (
        ("stroke", f"one stroke of {POINTS:,} points (a '3')", dense_stroke()),
        ("scribble", f"a scribble of {POINTS:,} points", scribble()),
    ):
        (sent,) = simplify([np.array(stroke)])  # what canvas.js sends of it (the same thinning)
        canvas.strokes = [stroke]
        results[f"{name}_update"] = {
            "what": what, "path": "`LiveRecognizer` update: render, preprocess, panel",
            **_timed(live._update, rounds), "outcome": outcome(),  # the observer the canvas calls
        }
        results[f"{name}_message"] = {
            "what": what, "path": f"message from the browser (`set_state`), {len(sent)} points as canvas.js sends it",
            **_timed(lambda sent=sent: canvas.set_state({"strokes": [sent.tolist()]}), rounds, before=canvas.clear),
            "outcome": outcome(),
        }
        results[f"{name}_code"] = {
            "what": what, "path": "set by code (`canvas.strokes = ...`), ipywidgets sending it included",
            **_timed(lambda stroke=stroke: setattr(canvas, "strokes", [stroke]), rounds, before=canvas.clear),
            "outcome": outcome(),
        }
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    results["load"] = {"before": load_before, "after": load_after, "cpus": os.cpu_count()}
    return results


def report_lines(results: dict) -> list[str]:
    """The measurements as markdown lines: a heading, a note, a table."""
    load = results.get("load", {})
    rows = {name: row for name, row in results.items() if name != "load"}
    rounds = next(iter(rows.values()))["rounds"] if rows else ROUNDS
    note = f"Best of {rounds} rounds; target {TARGET_S} s per drawing; CPU: the process's own CPU time."
    if load.get("before") is not None:
        note += (f" Load average {load['before']:.1f} before and {load['after']:.1f} after,"
                 f" on {load['cpus']} CPUs (other work slows the median, rarely the best).")
    lines = [
        "### Large drawings in the handwriting recognizer",
        "",
        note,
        "",
        f"| drawing | through | best | median | CPU | under {TARGET_S} s | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows.values():
        lines.append(
            f"| {row['what']} | {row['path']} | {row['best_s']:.3f} s | {row['median_s']:.3f} s | "
            f"{row['cpu_s']:.3f} s | {'yes' if row['best_s'] < TARGET_S else 'no'} | {row['outcome']} |"
        )
    return lines


if __name__ == "__main__":
    print("\n".join(report_lines(measure())))
