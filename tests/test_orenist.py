"""ORENIST: generated, deterministic, balanced."""

from __future__ import annotations

import numpy as np

from tfbook_utils.orenist import load_orenist


def test_shape_range_and_balance() -> None:
    images, labels = load_orenist()
    assert images.shape == (90, 784) and images.dtype == np.float32
    assert labels.shape == (90, 3) and labels.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert labels.sum(axis=0).tolist() == [30, 30, 30]
    assert (labels.sum(axis=1) == 1).all()
    # classes are mixed, not in three blocks
    assert len(set(labels[:10].argmax(1).tolist())) > 1


def test_same_images_every_time() -> None:
    a_images, a_labels = load_orenist()
    b_images, b_labels = load_orenist()
    np.testing.assert_array_equal(a_images, b_images)
    np.testing.assert_array_equal(a_labels, b_labels)


def test_strokes_point_the_right_way() -> None:
    """Vertical strokes spread ink over rows, horizontal over columns,
    crosses over both: the property the edge filters of Chapter04 detect."""
    images, labels = load_orenist()
    kinds = labels.argmax(1)
    grids = images.reshape(-1, 28, 28) > 0.5
    rows_used = grids.any(axis=2).sum(axis=1)
    cols_used = grids.any(axis=1).sum(axis=1)
    assert (rows_used[kinds == 0] > 2 * cols_used[kinds == 0]).all()
    assert (cols_used[kinds == 1] > 2 * rows_used[kinds == 1]).all()
    assert ((rows_used[kinds == 2] > 10) & (cols_used[kinds == 2] > 10)).all()
    # anti-aliased: soft edges, not just 0 and 1
    assert ((images > 0.05) & (images < 0.95)).sum() > 90 * 10
