"""ORENIST: the lecture's toy data set, generated instead of unpickled.

The lecture shipped "ORENIST" ("my own MNIST") as a Python 2 pickle: 90
grayscale 28 x 28 images in three classes of 30 -- a vertical stroke (label
0), a horizontal stroke (label 1) and a cross (label 2) -- drawn by hand.
Here they are drawn by ``stroke.draw_strokes`` with a fixed random seed:
each stroke is slightly slanted and curved, its pen pressure varies along
the stroke, and its position jitters, so the images look hand-drawn but are
the same 90 images on every machine.

    images, labels = load_orenist()   # (90, 784) float32, (90, 3) one-hot
"""

from __future__ import annotations

import numpy as np

from .stroke import draw_strokes

SEED = 20160703
PER_CLASS = 30
CLASS_NAMES = ("vertical", "horizontal", "cross")


def _stroke(rng: np.random.Generator, vertical: bool, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One hand-drawn-looking line through ``centre``: a quadratic curve
    with a random slant, bow and pen width that varies along it."""
    half_length = rng.uniform(7.0, 10.0)
    slant = np.deg2rad(rng.uniform(-4.0, 4.0))
    direction = np.array([np.sin(slant), np.cos(slant)]) if vertical else np.array([np.cos(slant), np.sin(slant)])
    normal = np.array([-direction[1], direction[0]])
    t = np.linspace(-1.0, 1.0, 15)[:, None]
    bow = rng.uniform(-0.5, 0.5)
    points = centre + t * half_length * direction + (1.0 - t**2) * bow * normal
    widths = rng.uniform(1.6, 2.4) + rng.uniform(-0.5, 0.5) * np.sin(np.pi * (t[:, 0] + rng.uniform(0, 1)))
    return points, widths


def _image(rng: np.random.Generator, label: int) -> np.ndarray:
    centre = np.array([14.0, 14.0]) + rng.uniform(-1.0, 1.0, size=2)
    strokes, widths = [], []
    if label in (0, 2):
        points, w = _stroke(rng, vertical=True, centre=centre + rng.uniform(-0.5, 0.5, size=2))
        strokes.append(points)
        widths.append(w)
    if label in (1, 2):
        points, w = _stroke(rng, vertical=False, centre=centre + rng.uniform(-0.5, 0.5, size=2))
        strokes.append(points)
        widths.append(w)
    return draw_strokes(strokes, (28, 28), np.concatenate(widths))


def load_orenist() -> tuple[np.ndarray, np.ndarray]:
    """The 90 ORENIST images (90 x 784 float32 in [0, 1]) and one-hot labels
    (90 x 3 float32), classes mixed in a fixed order."""
    rng = np.random.default_rng(SEED)
    labels = np.repeat(np.arange(3), PER_CLASS)
    labels = labels[rng.permutation(len(labels))]
    images = np.stack([_image(rng, int(label)).ravel() for label in labels])
    return images.astype(np.float32), np.eye(3, dtype=np.float32)[labels]
