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

``LiveRecognizer`` connects the drawing canvas (``canvas.py``) to a trained
network: while the student draws, it shows the 28x28 image the network
sees and the ten probabilities.
"""

from __future__ import annotations

import base64
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


class EmptyDrawing(TfbookError):
    """The drawing has no ink, so there is nothing to recognise."""


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


def _normalise_pen(ink: np.ndarray) -> np.ndarray:
    """Give a large drawing MNIST's typical pen width relative to its size."""
    crop = ink[_bounding_box(ink)]
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
    """A drawing (2-D float array of any size, ink 1 on background 0) as the
    784 float32 values of an MNIST image.  Raises ``EmptyDrawing`` if there
    is no ink."""
    ink = np.clip(np.asarray(drawing, dtype=np.float64), 0.0, 1.0)
    if ink.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {ink.shape}")
    if ink.max(initial=0.0) < 0.05:
        raise EmptyDrawing("The canvas is empty: draw a digit first, then run this cell again.")
    ink[ink < 0.01 * ink.max()] = 0.0  # faint specks would stretch the bounding box
    crop = _normalise_pen(ink)
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


def panel_html(image: np.ndarray | None, probabilities: np.ndarray | None) -> str:
    """The panel beside the canvas: the 28x28 input and ten probability bars
    (HTML, so it updates in milliseconds while the student draws)."""
    if image is None or probabilities is None:
        return (
            '<div style="width:410px;height:210px;display:flex;align-items:center;justify-content:center;'
            'color:#666;font-size:15px;text-align:center;border:1px dashed #bbb;font-family:sans-serif">'
            "左のキャンバスに数字を1つ書いてください<br>(draw one digit on the canvas)</div>"
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
    while the canvas is empty raises ``EmptyDrawing`` (one friendly line).
    Without a browser (``headless()``) a sample digit is drawn for you.
    """

    def __init__(self, canvas, sess, p, x, keep_prob, announce: Callable[[str], None] = print) -> None:
        import ipywidgets

        self.canvas = canvas
        self._predict = lambda image: predict(sess, p, x, keep_prob, image)
        self._image: np.ndarray | None = None
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
            self._image = preprocess(self.canvas.drawing())
        except EmptyDrawing:
            self._image = self.probabilities = None
        else:
            self.probabilities = self._predict(self._image)
        self.panel.value = panel_html(self._image, self.probabilities)

    @classmethod
    def from_checkpoint(cls, canvas, name: str) -> LiveRecognizer:
        """A recognizer that uses another trained network, rebuilt from the
        files of checkpoint ``name`` (for example Chapter06's
        ``'bnc_session-10000'``) instead of the graph built in the notebook."""
        from .checkpoints import load_model

        return cls(canvas, *load_model(name))

    @property
    def image(self) -> np.ndarray:
        """The 784 values of the current drawing (``EmptyDrawing`` if none)."""
        if self._image is None:
            raise EmptyDrawing(
                "The canvas is empty: draw a digit on the canvas of [HWR-07] first, then run this cell again."
            )
        return self._image

    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = "Drawing canvas (it appears when the notebook runs in Jupyter)"
        return bundle
