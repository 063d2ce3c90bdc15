"""Image grids that several notebooks draw.

The lecture's own plots (learning curves, decision boundaries) stay in the
notebooks, as printed on the slides; the grids of digits and filters that
repeat from notebook to notebook live here.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np


def show_images(
    images: np.ndarray,
    titles: Sequence[str] | None = None,
    rows: int = 2,
    cols: int = 5,
    size: float = 1.2,
    cmap: str = "gray_r",
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
) -> plt.Figure:
    """Show flat 784-vectors (or 2-D arrays) in a rows x cols grid."""
    fig = plt.figure(figsize=(cols * size, rows * size * 1.15))
    for i, image in enumerate(images[: rows * cols]):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
        side = int(np.sqrt(np.size(image)))
        ax.imshow(np.reshape(image, (side, side)), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    fig.tight_layout()
    return fig


def show_predictions(
    images: np.ndarray, labels: np.ndarray, predictions: np.ndarray, per_kind: int = 3
) -> plt.Figure:
    """For each predicted digit 0..9, ``per_kind`` correct and ``per_kind``
    wrong test images, titled "prediction / actual" (the lecture's 10 x 6 grid).

    ``labels`` and ``predictions`` are class ids (use ``np.argmax(..., 1)``).
    """
    cols = 2 * per_kind
    fig = plt.figure(figsize=(cols * 1.1, 10 * 1.25))
    for digit in range(10):
        correct = np.flatnonzero((predictions == digit) & (labels == digit))[:per_kind]
        wrong = np.flatnonzero((predictions == digit) & (labels != digit))[:per_kind]
        for column, index in [(c, i) for c, i in enumerate(correct)] + [
            (per_kind + c, i) for c, i in enumerate(wrong)
        ]:
            ax = fig.add_subplot(10, cols, digit * cols + column + 1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{predictions[index]} / {labels[index]}", fontsize=9)
            ax.imshow(images[index].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    fig.tight_layout()
    return fig
