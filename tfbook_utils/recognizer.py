"""Turn a drawing into the 28x28 image a network trained on MNIST expects.

A network only recognises what looks like its training data.  MNIST's
digits were written on paper, scanned, and then normalised (LeCun et al.):

1. cropped to the ink's bounding box;
2. scaled, keeping the aspect ratio, to fit a 20x20 box, with
   anti-aliasing (so edges are grey, not jagged);
3. placed in a 28x28 field so that the centre of mass of the ink sits at
   pixel (14, 14) (row and column indices counted from 0; measured on the
   test set).

A digit drawn on a 280-pixel canvas goes through the same steps here,
numpy only.  One step is added in front: the pen width is set to what is
typical in MNIST (about 11 % of the digit's size).  Without it a digit
drawn small, or with a thick pen, would come out as a blob after scaling
that the network has never seen.

Whatever array arrives, the student gets a digit or one line saying why
not: NaN and infinite values count as no ink, a drawing that is mostly ink
(filled in, or a light digit on a dark background) gets a hint instead of
a confident guess, and anything that is not a 2-D drawing says what to
pass instead.  A drawing larger than the canvas is first averaged down to
the canvas's size, so that a 4000x4000 image takes as long as a 280x280 one.

``LiveRecognizer`` connects the drawing canvas (``canvas.py``) to a trained
network: while the student draws, it shows the 28x28 image the network
sees and the ten probabilities.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable

import numpy as np

from .environment import headless
from .errors import TfbookError

FIELD = 28  # MNIST images are 28x28 ...
BOX = 20  # ... with the digit scaled into a 20x20 box
CENTRE = 14.0  # where MNIST puts the centre of mass (row, column indices)
PEN_RATIO = 0.11  # typical MNIST stroke width / digit size (median of the test set)
MIN_SIZE_FOR_PEN = 56  # below this size the image is already at MNIST scale: keep its pen
LARGEST = 280  # the canvas's side: larger ink is averaged down to this first (more pixels add time, not detail)
MOSTLY_INK = 0.5  # MNIST digits cover at most 40 % of their image; more ink than this is no digit


class EmptyDrawing(TfbookError):
    """The drawing has no ink, so there is nothing to recognise."""


class FilledDrawing(TfbookError):
    """Most of the drawing is ink: filled in, or inverted (the background has the high values)."""


class NotADrawing(TfbookError, ValueError):
    """The argument is not a 2-D array of ink values (a ValueError, too)."""


def _not_a_drawing(drawing: object, shape: tuple[int, ...]) -> NotADrawing:
    """What to pass instead, for the mistakes that happen: an MNIST vector, a
    colour image, an extra axis of length 1."""
    start = f"preprocess needs a drawing, a 2-D array (rows x columns) of ink values; this is {type(drawing).__name__}"
    if sorted(shape) in ([784], [1, 784]):
        return NotADrawing(f"{start} of 784 values, already an MNIST image: use it as it is, or image.reshape(28, 28).")
    if len(shape) == 3 and shape[2] in (3, 4):
        return NotADrawing(
            f"{start} of shape {shape}, a colour image: pass one grey channel, e.g. image[:, :, :3].mean(axis=2) "
            "(and 1 minus that for dark ink on a light background)."
        )
    if len(shape) > 2 and sum(n > 1 for n in shape) == 2:
        return NotADrawing(f"{start} of shape {shape}: drop the axes of length 1 with np.squeeze(drawing).")
    if not shape:
        return NotADrawing(f"{start}, a single value: pass the whole drawing, e.g. canvas.drawing().")
    return NotADrawing(f"{start} of shape {shape}.")


def _ink(drawing: object) -> np.ndarray:
    """The drawing as a new float array (the student's array stays as it is)
    with values in [0, 1]; NaN and infinities, which no pen makes, count as no
    ink.  Values above 1 (a uint8 scan is 0..255) are divided by the largest."""
    try:
        values = np.asarray(drawing, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):  # text, ragged lists, a TensorFlow tensor, ...
        raise _not_a_drawing(drawing, ()) from None
    if values.ndim != 2 or sorted(values.shape) == [1, 784]:
        raise _not_a_drawing(drawing, values.shape)
    if not np.isfinite(values.sum()):  # a NaN or an infinity somewhere: only then look for them
        values = np.where(np.isfinite(values), values, 0.0)
    values = np.maximum(values, 0.0)
    top = values.max(initial=0.0)
    return values / top if top > 1.0 else values  # a 0..255 scan, or drawings added up: relative to the most ink


def _inverted(drawing: object) -> str:
    """Code that inverts this drawing, written for its type: 1 - image is
    right for values in [0, 1], but wraps around on uint8 (1 - 255 is 2) and
    is an error on a list."""
    values = np.asarray(drawing)
    name = "image" if isinstance(drawing, np.ndarray) else "np.asarray(image)"
    if values.max(where=np.isfinite(values), initial=0) <= 1:
        return f"1 - {name}"
    return f"{name}.max() - {name}" if name == "image" else f"np.max(image) - {name}"


def _shrink(ink: np.ndarray) -> np.ndarray:
    """The mean of every k x k block, for the smallest k that brings the
    longer side to LARGEST pixels or fewer: area averaging, like the final
    step, and cheap (row i of every block is the slice ink[i::k])."""
    k = -(-max(ink.shape) // LARGEST)  # ceiling division
    if k == 1:
        return ink
    rows = np.zeros((-(-ink.shape[0] // k), ink.shape[1]))
    for i in range(k):
        part = ink[i::k]
        rows[: len(part)] += part
    blocks = np.zeros((rows.shape[0], -(-ink.shape[1] // k)))
    for j in range(k):
        part = rows[:, j::k]
        blocks[:, : part.shape[1]] += part
    return blocks / (k * k)


def _bounding_box(ink: np.ndarray) -> tuple[slice, slice]:
    rows = np.flatnonzero(ink.max(axis=1) > 0)
    cols = np.flatnonzero(ink.max(axis=0) > 0)
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _stroke_width(ink: np.ndarray) -> float:
    """Mean stroke width as 2 x area / perimeter (exact for a long, even
    stroke; the perimeter is the summed gradient, which works on grey edges)."""
    padded = np.pad(ink, 1)
    perimeter = np.hypot(np.diff(padded, axis=0)[:, 1:], np.diff(padded, axis=1)[1:, :]).sum()
    return 2.0 * float(ink.sum()) / max(float(perimeter), 1e-9)


def _morph_step(image: np.ndarray, grow: bool, square: bool) -> np.ndarray:
    """One pixel of dilation (grow) or erosion, with a 3x3 square or a cross."""
    op = np.maximum if grow else np.minimum
    padded = np.pad(image, 1)
    h, w = image.shape
    out = image.copy()
    for dy, dx in [(-1, 0), (1, 0), (0, -1), (0, 1)] + ([(-1, -1), (-1, 1), (1, -1), (1, 1)] if square else []):
        out = op(out, padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w])
    return out


def _change_pen(ink: np.ndarray, radius: float) -> np.ndarray:
    """Grow (radius > 0) or thin (radius < 0) every stroke by ``radius`` pixels
    on each side.  Alternating square and cross steps approximate a round pen;
    the fractional part is blended in, so the width changes smoothly."""
    steps, fraction = int(abs(radius)), abs(radius) % 1.0
    grow = radius > 0
    if grow:
        ink = np.pad(ink, steps + 1)
    for k in range(steps):
        ink = _morph_step(ink, grow, square=k % 2 == 1)
    following = _morph_step(ink, grow, square=steps % 2 == 1)
    return (1.0 - fraction) * ink + fraction * following


def _normalise_pen(crop: np.ndarray) -> np.ndarray:
    """Give a large drawing (cropped to its ink) MNIST's typical pen width relative to its size."""
    size = max(crop.shape)
    if size < MIN_SIZE_FOR_PEN:
        return crop
    width = _stroke_width(crop)
    # the box grows and shrinks with the pen: size - width is the pen's path
    target = PEN_RATIO * (size - width) / (1.0 - PEN_RATIO)
    changed = _change_pen(crop, (target - width) / 2.0)
    if changed.max() < 0.5 * crop.max():  # thinning erased the drawing (a dot): keep it
        return crop
    changed[changed < 0.01 * changed.max()] = 0.0
    return changed[_bounding_box(changed)]


def _box_weights(n_src: int, scale: float, offset: float) -> np.ndarray:
    """(FIELD, n_src) matrix of how much of source pixel j lands in output
    pixel k, when source pixel j covers [offset + j*scale, offset + (j+1)*scale).
    Multiplying by it averages over areas: exact anti-aliased resampling."""
    low = offset + np.arange(n_src) * scale
    k = np.arange(FIELD)[:, None]
    return np.clip(np.minimum(low + scale, k + 1) - np.maximum(low, k), 0.0, None)


def preprocess(drawing: np.ndarray) -> np.ndarray:
    """A drawing (2-D array of any size, ink 1 on background 0, or 255 on 0)
    as the 784 float32 values of an MNIST image.  Raises ``EmptyDrawing`` if there
    is no ink, ``FilledDrawing`` if most of it is ink and ``NotADrawing`` if
    it is not a 2-D array (each a one-line message)."""
    ink = _ink(drawing)
    row_peaks = ink.max(axis=1, initial=0.0)
    peak = row_peaks.max(initial=0.0)
    if peak < 0.05:
        raise EmptyDrawing("The canvas is empty: draw a digit first, then run this cell again.")
    speck = 0.01 * peak  # fainter ink would stretch the bounding box
    rows = np.flatnonzero(row_peaks >= speck)
    band = ink[rows[0] : rows[-1] + 1]
    cols = np.flatnonzero(band.max(axis=0) >= speck)
    crop = band[:, cols[0] : cols[-1] + 1]
    share = crop.sum() / (peak * ink.size)  # how much of the drawing is ink (outside the crop: only specks)
    if share > MOSTLY_INK:
        raise FilledDrawing(
            f"{share:.0%} of the drawing is ink, so it is no digit: it looks filled in, or inverted (the "
            "background has the high values, as in a scan of dark ink on white paper). Press Clear and draw one "
            f"digit with dark ink on the white canvas; for an inverted image, pass {_inverted(drawing)}."
        )
    crop = _shrink(crop)
    crop[crop < speck] = 0.0
    crop = _normalise_pen(crop)
    h, w = crop.shape
    scale = BOX / max(h, w)
    # centre of mass of the crop, pixel centres at index + 0.5
    cy = (crop.sum(axis=1) @ (np.arange(h) + 0.5)) / crop.sum()
    cx = (crop.sum(axis=0) @ (np.arange(w) + 0.5)) / crop.sum()
    # put it at the centre of pixel (CENTRE, CENTRE), keeping the box inside the field
    top = np.clip(CENTRE + 0.5 - cy * scale, 0.0, FIELD - h * scale)
    left = np.clip(CENTRE + 0.5 - cx * scale, 0.0, FIELD - w * scale)
    image = _box_weights(h, scale, top) @ crop @ _box_weights(w, scale, left).T
    return (image / image.max()).astype(np.float32).reshape(FIELD * FIELD)


def predict(sess, p, x, keep_prob, image: np.ndarray) -> np.ndarray:
    """The ten probabilities the network gives ``image`` (784 values), with
    dropout switched off (keep_prob 1.0), as in the lecture's [HWR-08]."""
    return sess.run(p, feed_dict={x: [image], keep_prob: 1.0})[0]


def _png_data_uri(image: np.ndarray) -> str:
    from matplotlib import image as mpimg

    buffer = io.BytesIO()
    mpimg.imsave(buffer, image.reshape(FIELD, FIELD), cmap="gray_r", vmin=0.0, vmax=1.0, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def panel_html(image: np.ndarray | None, probabilities: np.ndarray | None, problem: TfbookError | None = None) -> str:
    """The panel beside the canvas: the 28x28 input and ten probability bars
    (HTML, so it updates in milliseconds while the student draws).  Without
    an image it asks for a digit, or says what is wrong with the drawing."""
    if image is None or probabilities is None:
        if isinstance(problem, FilledDrawing):
            text = "キャンバスのほとんどがインクです。Clear を押して、数字を1つ書いてください"
            text += f"<br>({html.escape(str(problem))})"
        else:
            text = "左のキャンバスに数字を1つ書いてください<br>(draw one digit on the canvas)"
        return (
            '<div style="width:410px;height:210px;display:flex;align-items:center;justify-content:center;'
            'color:#666;font-size:15px;text-align:center;border:1px dashed #bbb;font-family:sans-serif">'
            f"{text}</div>"
        )
    best = int(np.argmax(probabilities))
    bars = "".join(
        f'<div style="display:flex;flex-direction:column;align-items:center;width:26px">'
        f'<div style="font-size:10px;color:#555">{q:.2f}</div>'
        f'<div style="height:150px;width:16px;display:flex;align-items:flex-end;background:#f2f2f2">'
        f'<div style="height:{150 * float(q):.0f}px;width:16px;background:{"#d62728" if d == best else "#1f77b4"}">'
        f'</div></div><div style="font-size:13px{";font-weight:bold" if d == best else ""}">{d}</div></div>'
        for d, q in enumerate(probabilities)
    )
    return (
        '<div style="display:flex;gap:14px;align-items:flex-start;font-family:sans-serif">'
        '<div style="text-align:center;font-size:12px;color:#555">network input (28x28)<br>'
        f'<img src="{_png_data_uri(image)}" width="112" height="112" '
        'style="image-rendering:pixelated;border:1px solid #999;margin-top:4px"></div>'
        f'<div><div style="font-size:20px;margin-bottom:6px">prediction: <b>{best}</b> '
        f'<span style="font-size:13px;color:#555">({float(probabilities[best]):.1%})</span></div>'
        f'<div style="display:flex;gap:2px">{bars}</div></div></div>'
    )


class LiveRecognizer:
    """The canvas, and beside it what the network sees and predicts, updated
    whenever the strokes change (no cell has to be re-run).

    ``image`` is the 784-vector of the current drawing, for the lecture's
    ``sess.run(p, feed_dict={x: [image], keep_prob: 1.0})``.  Reading it
    while the canvas is empty raises ``EmptyDrawing`` (one friendly line),
    and ``FilledDrawing`` while most of it is ink.
    Without a browser (``headless()``) a sample digit is drawn for you.
    """

    def __init__(self, canvas, sess, p, x, keep_prob, announce: Callable[[str], None] = print) -> None:
        import ipywidgets

        self.canvas = canvas
        self._predict = lambda image: predict(sess, p, x, keep_prob, image)
        self._image: np.ndarray | None = None
        self._problem: TfbookError | None = None  # why there is no image, when the drawing is no digit
        self.probabilities: np.ndarray | None = None
        self.panel = ipywidgets.HTML(panel_html(None, None))
        self.widget = ipywidgets.HBox(
            [canvas, self.panel], layout=ipywidgets.Layout(gap="16px", align_items="flex-start")
        )
        canvas.observe(self._update, names="strokes")
        if headless() and not canvas.strokes:
            from .canvas import SAMPLE_STROKES

            canvas.strokes = SAMPLE_STROKES
            announce("Headless run (no browser to draw in): using a sample digit drawn by the program, a 3.")
        self._update()

    def _update(self, change: object = None) -> None:
        try:
            self._image, self._problem = preprocess(self.canvas.drawing()), None
        except (EmptyDrawing, FilledDrawing) as problem:
            self._image, self._problem, self.probabilities = None, problem, None
        else:
            self.probabilities = self._predict(self._image)
        self.panel.value = panel_html(self._image, self.probabilities, self._problem)

    @classmethod
    def from_checkpoint(cls, canvas, name: str) -> LiveRecognizer:
        """A recognizer that uses another trained network, rebuilt from the
        files of checkpoint ``name`` (for example Chapter06's
        ``'bnc_session-10000'``) instead of the graph built in the notebook."""
        from .checkpoints import load_model

        return cls(canvas, *load_model(name))

    @property
    def image(self) -> np.ndarray:
        """The 784 values of the current drawing (``EmptyDrawing`` if none,
        ``FilledDrawing`` if it is mostly ink)."""
        if isinstance(self._problem, FilledDrawing):
            raise FilledDrawing(f"The drawing on the canvas of [HWR-07] is no digit: {self._problem}")
        if self._image is None:
            raise EmptyDrawing(
                "The canvas is empty: draw a digit on the canvas of [HWR-07] first, then run this cell again."
            )
        return self._image

    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = "Drawing canvas (it appears when the notebook runs in Jupyter)"
        return bundle
