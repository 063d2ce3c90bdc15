"""Anti-aliased pen strokes rendered with numpy.

Both the generated ORENIST images and the drawings of the handwriting
recognizer are made of strokes: polylines drawn with a round pen.  A pixel's
ink is how much of the pen covers it, computed from its distance to the
nearest segment, so edges come out soft like scanned handwriting.
"""

from __future__ import annotations

import numpy as np


def _distance_to_segment(px: np.ndarray, py: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    length2 = float(ab @ ab)
    if length2 == 0.0:
        return np.hypot(px - a[0], py - a[1])
    t = np.clip(((px - a[0]) * ab[0] + (py - a[1]) * ab[1]) / length2, 0.0, 1.0)
    return np.hypot(px - (a[0] + t * ab[0]), py - (a[1] + t * ab[1]))


def draw_strokes(
    strokes: list[np.ndarray],
    size: tuple[int, int],
    width: float | np.ndarray,
) -> np.ndarray:
    """Render strokes into a float image of shape ``size`` (rows, cols) in [0, 1].

    Each stroke is an array of (x, y) points in pixel coordinates (x to the
    right, y down, pixel centres at integer + 0.5); a third column, such as
    a tablet's pressure, is ignored.  ``width`` is the pen
    diameter in pixels: one number, or one per point of each stroke
    concatenated in order (for uneven pressure).
    """
    rows, cols = size
    py, px = np.mgrid[0:rows, 0:cols].astype(np.float64) + 0.5
    ink = np.zeros(size)
    widths = np.broadcast_to(np.asarray(width, dtype=float), (sum(len(s) for s in strokes),))
    k = 0
    for stroke in strokes:
        points = np.atleast_2d(np.asarray(stroke, dtype=float))[:, :2]  # x, y (a pressure is not used)
        pairs = zip(points[:-1], points[1:]) if len(points) > 1 else [(points[0], points[0])]
        for j, (a, b) in enumerate(pairs):
            radius = widths[min(k + j, len(widths) - 1)] / 2.0
            d = _distance_to_segment(px, py, a, b)
            # coverage falls from 1 to 0 over one pixel at the pen's edge
            ink = np.maximum(ink, np.clip(radius + 0.5 - d, 0.0, 1.0))
        k += len(points)
    return ink
