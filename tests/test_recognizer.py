"""recognizer.py: drawings become MNIST-like 28x28 images, and the lecture's
CNN reads digits drawn on the canvas, however big, small, off-centre or bold."""

from __future__ import annotations

import numpy as np
import pytest

import tfbook_utils  # noqa: F401  (quiet TensorFlow)
from tfbook_utils.canvas import render
from tfbook_utils.errors import TfbookError
from tfbook_utils.paths import CHECKPOINT_DIR
from tfbook_utils.recognizer import CENTRE, EmptyDrawing, FilledDrawing, NotADrawing, predict, preprocess

CANVAS = 280


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float) -> np.ndarray:
    t = np.radians(np.linspace(start, stop, 40))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


# Digits as pen strokes in a unit square (x to the right, y down).
DIGITS: dict[int, list[np.ndarray]] = {
    1: [np.array([[0.60, 0.0], [0.40, 1.0]])],
    7: [np.array([[0.0, 0.04], [1.0, 0.0], [0.38, 1.0]])],
    0: [_arc(0.5, 0.5, 0.36, 0.5, -100, 265)],
    3: [np.concatenate([_arc(0.5, 0.25, 0.42, 0.25, 200, 450), _arc(0.5, 0.74, 0.45, 0.26, 272, 520)])],
}

# Where and how big a student might draw on the 280-pixel canvas, and with which pen.
VARIANTS: dict[str, dict[str, float]] = {
    "normal": dict(left=60, top=60, size=160, pen=20.0),
    "off-centre": dict(left=12, top=14, size=110, pen=20.0),
    "too large": dict(left=3, top=3, size=274, pen=20.0),
    "too small": dict(left=150, top=170, size=70, pen=20.0),
    "thick": dict(left=60, top=60, size=160, pen=44.0),
}


def _densify(points: np.ndarray, step: float = 3.0) -> np.ndarray:
    """Points every few pixels along the polyline, as a browser sends them."""
    out = [points[0]]
    for a, b in zip(points[:-1], points[1:], strict=True):
        n = max(1, int(np.ceil(np.hypot(*(b - a)) / step)))
        out += [a + (b - a) * k / n for k in range(1, n + 1)]
    return np.array(out)


def draw(digit: int, variant: str) -> np.ndarray:
    """The digit drawn on the canvas, rendered at full canvas resolution."""
    v = VARIANTS[variant]
    strokes = [_densify(s * v["size"] + [v["left"], v["top"]]) for s in DIGITS[digit]]
    return render(strokes, CANVAS, v["pen"])


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    image = image.reshape(28, 28)
    index = np.arange(28)
    return float(image.sum(axis=1) @ index / image.sum()), float(image.sum(axis=0) @ index / image.sum())


def ink_box(image: np.ndarray) -> tuple[int, int]:
    """Height and width of the pixels with any ink."""
    image = image.reshape(28, 28)
    rows = np.flatnonzero(image.max(axis=1) > 0)
    cols = np.flatnonzero(image.max(axis=0) > 0)
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def test_output_is_an_mnist_vector() -> None:
    image = preprocess(draw(7, "normal"))
    assert image.shape == (784,) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() == pytest.approx(1.0)


def test_bounding_box_is_scaled_into_20x20_keeping_the_aspect_ratio() -> None:
    # A solid 40 x 20 block (small enough to keep its pen width) far off-centre.
    drawing = np.zeros((100, 100))
    drawing[5:45, 70:90] = 1.0
    image = preprocess(drawing).reshape(28, 28)
    assert centre_of_mass(image) == pytest.approx((CENTRE, CENTRE), abs=1e-6)
    # 20 x 10 pixels of area (area-averaging keeps the ink exactly) ...
    assert image.sum() == pytest.approx(200.0, abs=1e-6)
    # ... covering 20 rows and 10 columns (21 and 11 at most when not on the pixel grid)
    height, width = ink_box(image)
    assert height in (20, 21) and width in (10, 11)
    assert (image > 0.99).sum() >= 19 * 9


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("digit", list(DIGITS))
def test_centre_of_mass_is_at_14_14_and_digit_fits_the_box(digit: int, variant: str) -> None:
    image = preprocess(draw(digit, variant)).reshape(28, 28)
    cy, cx = centre_of_mass(image)
    # exactly at the centre, unless that would push the 20x20 box out of the field
    # (a top-heavy 7): then it stops at the edge
    assert abs(cy - CENTRE) < 0.05 or (abs(cy - CENTRE) < 0.5 and image[[0, -1], :].max() > 0)
    assert abs(cx - CENTRE) < 0.05 or (abs(cx - CENTRE) < 0.5 and image[:, [0, -1]].max() > 0)
    assert max(ink_box(image)) in (20, 21, 22)  # 20 plus the grey fringe


@pytest.mark.parametrize("digit", list(DIGITS))
def test_size_position_and_pen_hardly_change_the_28x28(digit: int) -> None:
    normal = preprocess(draw(digit, "normal"))
    for variant in VARIANTS:
        other = preprocess(draw(digit, variant))
        assert np.corrcoef(normal, other)[0, 1] > 0.9, variant
        assert np.abs(normal - other).mean() < 0.06, variant


def test_pen_width_becomes_mnist_like() -> None:
    """About 2.2 pixels of stroke in 28x28, as in MNIST, from any pen."""

    def stroke_width(image: np.ndarray) -> float:
        image = np.pad(image.reshape(28, 28), 1)
        perimeter = np.hypot(np.diff(image, axis=0)[:, 1:], np.diff(image, axis=1)[1:, :]).sum()
        return 2 * image.sum() / perimeter

    for variant in VARIANTS:
        assert 1.8 < stroke_width(preprocess(draw(0, variant))) < 2.7, variant


def test_mnist_digits_pass_through_nearly_unchanged() -> None:
    from tfbook_utils.mnist import read_data_sets

    images = read_data_sets(one_hot=True).test.images[:200]
    similarity = [np.corrcoef(preprocess(im.reshape(28, 28)), im)[0, 1] for im in images]
    assert np.median(similarity) > 0.95


def test_empty_drawing_says_so() -> None:
    for drawing in (np.zeros((280, 280)), np.full((280, 280), 0.01)):
        with pytest.raises(EmptyDrawing) as caught:
            preprocess(drawing)
        assert isinstance(caught.value, TfbookError)
        assert caught.value._render_traceback_() == [f"EmptyDrawing: {caught.value}"]
        assert "draw" in str(caught.value)


def test_a_single_dot_is_not_empty() -> None:
    dot = render([np.array([[140.0, 140.0]])], CANVAS, 20.0)
    image = preprocess(dot)
    assert image.max() == pytest.approx(1.0)


def thin_circle(side: int, pen: float = 4.0) -> np.ndarray:
    """A '0' drawn with a thin pen on a side x side image (the benchmark's drawing)."""
    yy, xx = np.ogrid[0:side, 0:side]
    radius = np.hypot(yy + 0.5 - side / 2, xx + 0.5 - side / 2)
    return np.clip(pen / 2 + 0.5 - np.abs(radius - 0.35 * side), 0.0, 1.0)


# What a student might pass instead of a drawing, and a word the one-line answer must contain.
NOT_DRAWINGS = {
    "784-vector": (np.ones(784), "reshape(28, 28)"),
    "1 x 784": (np.ones((1, 784)), "reshape(28, 28)"),
    "RGB image": (np.zeros((280, 280, 3)), "grey channel"),
    "RGBA image": (np.zeros((280, 280, 4)), "grey channel"),
    "extra axis": (np.zeros((1, 280, 280)), "np.squeeze"),
    "None": (None, "canvas.drawing()"),
    "text": ("a drawing", "2-D array"),
    "ragged rows": ([[0.0, 1.0], [1.0]], "2-D array"),
    "3-D block": (np.zeros((5, 6, 7)), "(5, 6, 7)"),
}


@pytest.mark.parametrize("name", list(NOT_DRAWINGS))
def test_what_is_not_a_drawing_gets_one_line_saying_what_to_pass(name: str) -> None:
    value, hint = NOT_DRAWINGS[name]
    with pytest.raises(NotADrawing) as caught:
        preprocess(value)
    assert isinstance(caught.value, TfbookError) and isinstance(caught.value, ValueError)
    assert caught.value._render_traceback_() == [f"NotADrawing: {caught.value}"]  # no traceback in Jupyter
    assert hint in str(caught.value) and "\n" not in str(caught.value)


def test_a_tensorflow_tensor_is_not_a_drawing() -> None:
    import tensorflow.compat.v1 as tf

    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 784])
        with pytest.raises(NotADrawing, match="Tensor"):
            preprocess(x)


def test_nan_and_infinities_count_as_no_ink() -> None:
    clean = draw(7, "normal")
    for bad in (np.nan, np.inf, -np.inf):
        drawing = clean.copy()
        drawing[:40, :40] = bad  # outside the digit
        drawing[140, 140] = bad  # inside the ink
        kept = drawing.copy()
        expected = clean.copy()
        expected[:40, :40] = 0.0
        expected[140, 140] = 0.0
        np.testing.assert_array_equal(preprocess(drawing), preprocess(expected))
        np.testing.assert_array_equal(drawing, kept)  # the student's array is left as it was


def test_an_all_nan_drawing_is_empty() -> None:
    for value in (np.nan, np.inf):
        with pytest.raises(EmptyDrawing):
            preprocess(np.full((280, 280), value))


@pytest.mark.parametrize(
    "drawing",
    [np.ones((280, 280)), 1.0 - draw(3, "normal"), 1.0 - draw(0, "thick"), np.full((28, 28), 0.3)],
    ids=["all ink", "inverted 3", "inverted thick 0", "grey everywhere"],
)
def test_filled_or_inverted_drawing_gets_a_hint_not_a_digit(drawing: np.ndarray) -> None:
    with pytest.raises(FilledDrawing) as caught:
        preprocess(drawing)
    message = str(caught.value)
    assert "inverted" in message and "1 - image" in message and "Clear" in message
    assert caught.value._render_traceback_() == [f"FilledDrawing: {message}"]


def test_no_mnist_digit_counts_as_filled() -> None:
    """MNIST's boldest digits cover 40 % of their image; the hint starts above 50 %."""
    from tfbook_utils.mnist import read_data_sets

    images = read_data_sets(one_hot=True).train.images
    share = images.mean(axis=1) / images.max(axis=1)
    assert share.max() < 0.45
    for image in images[np.argsort(share)[-20:]]:  # the twenty boldest go through
        assert preprocess(image.reshape(28, 28)).shape == (784,)


def test_a_large_drawing_becomes_the_same_28x28_as_at_canvas_size() -> None:
    for digit in DIGITS:
        small = draw(digit, "normal")
        large = np.kron(small, np.ones((15, 15)))  # the same drawing on a 4200 x 4200 image
        assert np.corrcoef(preprocess(small), preprocess(large))[0, 1] > 0.97, digit


def test_a_thin_circle_on_a_huge_image_looks_like_one_on_the_canvas() -> None:
    huge, canvas = preprocess(thin_circle(4000)), preprocess(thin_circle(280))
    assert np.corrcoef(huge, canvas)[0, 1] > 0.9


# -- the lecture's CNN (CNN-03 ... CNN-05) reading drawn digits ---------------------------------

CNN_CHECKPOINT = CHECKPOINT_DIR / "cnn_session-20000.index"


@pytest.fixture(scope="module")
def cnn(tmp_path_factory: pytest.TempPathFactory):
    """The lecture's CNN graph with the shipped checkpoint restored."""
    assert CNN_CHECKPOINT.is_file(), "checkpoints/cnn_session-20000 is missing: `git checkout checkpoints`"
    import os

    import tensorflow.compat.v1 as tf

    from tests.lecture_models import cnn_graph
    from tfbook_utils import checkpoints

    graph = tf.Graph()
    with graph.as_default():
        model = cnn_graph()
    sess = tf.Session(graph=graph)
    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("no_own_checkpoint"))  # use the shipped file, not a stray one
    try:
        checkpoints.restore(sess, "cnn_session-20000", verbose=False)
    finally:
        os.chdir(here)
    yield sess, model["p"], model["x"], model["keep_prob"]
    sess.close()


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("digit", list(DIGITS))
def test_cnn_reads_drawn_digits(cnn, digit: int, variant: str) -> None:
    sess, p, x, keep_prob = cnn
    probabilities = predict(sess, p, x, keep_prob, preprocess(draw(digit, variant)))
    assert probabilities.shape == (10,)
    assert int(np.argmax(probabilities)) == digit, np.round(probabilities, 3)
    assert probabilities[digit] > 0.8


@pytest.mark.parametrize("digit", list(DIGITS))
def test_cnn_reads_drawn_digits_on_a_huge_image_as_well(cnn, digit: int) -> None:
    """The same drawings 15 times larger (4200 x 4200): averaged down first, read as well."""
    sess, p, x, keep_prob = cnn
    for variant in ("normal", "thick"):
        drawing = draw(digit, variant)
        small = predict(sess, p, x, keep_prob, preprocess(drawing))
        large = predict(sess, p, x, keep_prob, preprocess(np.kron(drawing, np.ones((15, 15)))))
        assert int(np.argmax(large)) == digit and large[digit] > 0.8, np.round(large, 3)
        assert abs(large[digit] - small[digit]) < 0.05


def test_cnn_reads_a_thin_circle_drawn_on_a_huge_image(cnn) -> None:
    sess, p, x, keep_prob = cnn
    for side in (280, 2000, 4000):
        probabilities = predict(sess, p, x, keep_prob, preprocess(thin_circle(side)))
        assert int(np.argmax(probabilities)) == 0, (side, np.round(probabilities, 3))


def test_cnn_reads_the_headless_sample(cnn) -> None:
    from tfbook_utils.canvas import SAMPLE_STROKES

    sess, p, x, keep_prob = cnn
    image = preprocess(render([np.array(s) for s in SAMPLE_STROKES], CANVAS, 20.0))
    assert int(np.argmax(predict(sess, p, x, keep_prob, image))) == 3


# -- Chapter06's batch-norm CNN, rebuilt from its saved graph: the recognizer's one-line switch ---------


@pytest.fixture(scope="module")
def bnc(tmp_path_factory: pytest.TempPathFactory):
    import os

    from tfbook_utils import checkpoints

    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("no_own_bnc_checkpoint"))  # the shipped file, not a stray one
    try:
        sess, p, x, keep_prob = checkpoints.load_model("bnc_session-10000", verbose=False)
    finally:
        os.chdir(here)
    yield sess, p, x, keep_prob
    sess.close()


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("digit", list(DIGITS))
def test_batch_norm_cnn_reads_drawn_digits(bnc, digit: int, variant: str) -> None:
    sess, p, x, keep_prob = bnc
    probabilities = predict(sess, p, x, keep_prob, preprocess(draw(digit, variant)))
    assert int(np.argmax(probabilities)) == digit, np.round(probabilities, 3)


def test_live_recognizer_switches_to_the_batch_norm_cnn_in_one_line(tmp_path, monkeypatch) -> None:
    from tfbook_utils.canvas import DrawingCanvas
    from tfbook_utils.recognizer import LiveRecognizer

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TFBOOK_HEADLESS", "1")  # no browser: the sample 3 is drawn
    live = LiveRecognizer.from_checkpoint(DrawingCanvas(), "bnc_session-10000")
    assert int(np.argmax(live.probabilities)) == 3
    assert "prediction: <b>3</b>" in live.panel.value


@pytest.mark.parametrize("form", ["numpy array", "[x, y, pressure] points"])
def test_cnn_reads_a_digit_set_as_numpy_or_pressure_strokes(cnn, monkeypatch, form: str) -> None:
    """What a tablet or another drawing library gives is read, not shown as an empty canvas."""
    from tfbook_utils.canvas import DrawingCanvas
    from tfbook_utils.recognizer import LiveRecognizer

    monkeypatch.setenv("TFBOOK_HEADLESS", "0")
    v = VARIANTS["normal"]
    seven = _densify(DIGITS[7][0] * v["size"] + [v["left"], v["top"]])
    pressure = np.linspace(0.3, 0.8, len(seven))[:, None]
    live = LiveRecognizer(DrawingCanvas(), *cnn, announce=print)
    live.canvas.strokes = np.array([seven]) if form == "numpy array" else [np.hstack([seven, pressure]).tolist()]
    assert live.image.shape == (784,)
    assert int(np.argmax(live.probabilities)) == 7 and "prediction: <b>7</b>" in live.panel.value


def inverted_scans() -> dict[str, object]:
    """A 3 as an inverted image (the background high), in the types a student's scan or photo comes in."""
    ink = draw(3, "normal")
    return {
        "uint8 0..255": np.round(255 * (1.0 - ink)).astype(np.uint8),
        "float 0..255": 255.0 * (1.0 - ink),
        "uint16 0..65535": np.round(65535 * (1.0 - ink)).astype(np.uint16),
        "float 0..1": 1.0 - ink,
        "bool": ink < 0.5,
        "list 0..1": (1.0 - ink).tolist(),
    }


@pytest.mark.parametrize("kind", list(inverted_scans()))
def test_the_hint_for_an_inverted_image_works_when_followed(cnn, kind: str) -> None:
    """The hint is code for the array's own type: 1 - image wraps around on uint8 (1 - 255 is 2)."""
    image = inverted_scans()[kind]
    with pytest.raises(FilledDrawing) as caught:
        preprocess(image)
    hint = str(caught.value).rsplit("pass ", 1)[1].rstrip(".")
    followed = eval(hint, {"np": np, "image": image})  # what the student types
    sess, p, x, keep_prob = cnn
    probabilities = predict(sess, p, x, keep_prob, preprocess(followed))
    assert int(np.argmax(probabilities)) == 3 and probabilities[3] > 0.8, (hint, np.round(probabilities, 3))


def test_a_0_to_255_scan_is_read_like_a_0_to_1_drawing() -> None:
    ink = draw(7, "normal")
    np.testing.assert_allclose(preprocess(np.round(255 * ink).astype(np.uint8)), preprocess(ink), atol=0.01)
