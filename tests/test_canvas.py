"""canvas.py and LiveRecognizer without a browser: strokes in the traitlet
become an image in the kernel, and the widget's JavaScript is valid and
sends what the pointer drew."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import traitlets

import tfbook_utils  # noqa: F401  (quiet TensorFlow)
from tfbook_utils.canvas import MAX_POINTS, SAMPLE_STROKES, DrawingCanvas, render, simplify
from tfbook_utils.errors import ArgumentError
from tfbook_utils.recognizer import EmptyDrawing, FilledDrawing, LiveRecognizer
from tfbook_utils.stroke import draw_strokes


def test_render_is_draw_strokes_only_faster() -> None:
    rng = np.random.default_rng(0)
    strokes = [rng.uniform(-10, 70, size=(n, 2)) for n in (1, 2, 7)]
    for width in (3.0, 8.5):
        assert np.allclose(render(strokes, 64, width), draw_strokes(strokes, (64, 64), width), atol=1e-12)


def test_canvas_defaults_and_empty_drawing() -> None:
    canvas = DrawingCanvas()
    assert (canvas.size, canvas.pen_width, canvas.strokes) == (280, 20.0, [])
    drawing = canvas.drawing()
    assert drawing.shape == (280, 280) and drawing.max() == 0.0


def test_strokes_become_a_full_resolution_image() -> None:
    canvas = DrawingCanvas()
    canvas.strokes = [[[50, 60.25], [200, 60.25]], [[140, 20]]]
    drawing = canvas.drawing()
    assert drawing.shape == (280, 280)
    assert drawing[60, 120] == 1.0  # on the first stroke
    assert drawing[69, 120] == 1.0 and drawing[71, 120] == 0.0  # pen radius 10
    assert drawing[70, 120] == pytest.approx(0.25)  # a soft edge: pixel 70 is a quarter covered
    assert drawing[20, 140] == 1.0  # a dot
    assert drawing[200, 200] == 0.0


def test_malformed_strokes_from_the_browser_are_skipped() -> None:
    canvas = DrawingCanvas()
    canvas.strokes = [[[10, 10], [30, 10]], "junk", [[1]], [], None, 5, [[float("nan"), 5], [60, 60]]]
    arrays = canvas.stroke_arrays()
    assert [len(a) for a in arrays] == [2, 1]
    assert canvas.drawing().max() == 1.0


def test_a_bad_point_is_dropped_alone_not_its_stroke() -> None:
    canvas = DrawingCanvas()
    good = [[50.0, 50.0], [100.0, 60.0], [150.0, 70.0], [200.0, 80.0]]
    canvas.strokes = [
        good[:2] + [None] + good[2:],  # one None point
        [[50, 150, 1, 0], [100, 160], [150, 170, 3, 0], [200, 180]],  # points of four numbers
        [[50, 250], ["100", 250], [True, False], [float("inf"), 1], [1e300, 5], [150, 250], [200, 250]],
        [[10, 10], [20]],  # rows of different lengths
    ]
    kept = canvas.stroke_arrays()
    np.testing.assert_array_equal(kept[0], good)
    np.testing.assert_array_equal(kept[1], [[100, 160], [200, 180]])  # not re-paired into [50, 150], [1, 0], ...
    np.testing.assert_array_equal(kept[2], [[50, 250], [150, 250], [200, 250]])
    np.testing.assert_array_equal(kept[3], [[10, 10]])
    assert canvas.drawing()[55, 125] == 1.0  # the first stroke is drawn across the dropped point


def test_points_the_browser_sends_are_drawn_exactly() -> None:
    """Points 2 pixels apart or more (what canvas.js sends) are all kept."""
    rng = np.random.default_rng(1)
    steps = rng.uniform(2.0, 9.0, size=300) * np.exp(1j * np.cumsum(rng.normal(0, 0.4, size=300)))
    path = 140 + np.cumsum(steps) / 6
    stroke = np.round(np.stack([path.real, path.imag], axis=1), 1)
    stroke = stroke[np.r_[True, np.hypot(*np.diff(stroke, axis=0).T) >= 2]]
    (kept,) = simplify([stroke])
    np.testing.assert_array_equal(kept, stroke)


def test_a_stroke_of_100000_points_is_thinned_to_the_same_drawing() -> None:
    t = np.linspace(0.0, 2 * np.pi, 100_000)
    dense = np.stack([140 + 80 * np.cos(t), 140 + 100 * np.sin(t)], axis=1)
    (thin,) = simplify([dense])
    assert len(thin) < 600
    np.testing.assert_array_equal(thin[[0, -1]], dense[[0, -1]])  # both ends stay
    exact = render([dense[::50]], 280, 20.0)  # 2,000 points, still sub-pixel apart
    assert np.abs(render([thin], 280, 20.0) - exact).max() < 0.01


def test_a_long_scribble_is_thinned_to_a_bounded_number_of_points() -> None:
    rng = np.random.default_rng(2)
    scribble = np.clip(140 + np.cumsum(rng.normal(0, 2, size=(100_000, 2)), axis=0), 0, 280)
    strokes = simplify([scribble[:60_000], scribble[60_000:]])
    assert sum(len(s) for s in strokes) <= MAX_POINTS + 2 * len(strokes)
    assert render(strokes, 280, 20.0).max() == 1.0


def test_a_huge_pen_is_narrowed_with_one_line(capsys: pytest.CaptureFixture) -> None:
    canvas = DrawingCanvas()
    canvas.pen_width = 1000.0
    assert canvas.pen_width == 70.0 and canvas.get_state()["pen_width"] == 70.0  # the browser draws 70 too
    said = capsys.readouterr().out
    assert said.count("\n") == 1 and "quarter of the canvas" in said
    canvas.strokes = SAMPLE_STROKES
    assert canvas.drawing().mean() < 0.5  # a thick 3, not a black canvas
    for width, fitted in ((float("nan"), 20.0), (0.0, 1.0), (-5.0, 1.0), (float("inf"), 70.0), (12.5, 12.5)):
        canvas.pen_width = width
        assert canvas.pen_width == fitted
    assert DrawingCanvas(size=560, pen_width=100.0).pen_width == 100.0  # a quarter of the larger canvas is 140


def test_an_impossible_canvas_size_is_fitted_with_one_line(capsys: pytest.CaptureFixture) -> None:
    assert DrawingCanvas(size=0).size == 28
    assert DrawingCanvas(size=100_000).size == 1000
    assert capsys.readouterr().out.count("\n") == 2


def test_sizes_as_numbers_or_numeric_text_are_read(capsys: pytest.CaptureFixture) -> None:
    assert DrawingCanvas(size="300").size == 300 and DrawingCanvas(size=" 300 ").size == 300
    assert DrawingCanvas(size=300.4).size == 300 and DrawingCanvas(size=np.int64(200)).size == 200
    assert DrawingCanvas(size="560", pen_width="100").pen_width == 100.0  # a quarter of 560 is 140
    canvas = DrawingCanvas(size="400")
    assert canvas.get_state()["size"] == 400 and isinstance(canvas.size, int)  # the browser gets a whole number
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "arguments, said",
    [
        ({"size": "abc"}, "size is a number of pixels such as 280 (from 28 to 1000), not 'abc'"),
        ({"size": None}, "not None"),
        ({"size": float("nan")}, "not nan"),
        ({"pen_width": "thick"}, "pen_width is a number of pixels such as 20, not 'thick'"),
    ],
    ids=["text", "None", "nan", "pen as text"],
)
def test_a_size_that_is_no_number_is_one_line_not_a_traitlets_traceback(arguments: dict, said: str) -> None:
    with pytest.raises(ArgumentError) as caught:
        DrawingCanvas(**arguments)
    assert said in str(caught.value) and caught.value._render_traceback_() == [f"ArgumentError: {caught.value}"]
    assert isinstance(caught.value, ValueError) and not isinstance(caught.value, traitlets.TraitError)
    canvas = DrawingCanvas()
    with pytest.raises(ArgumentError):
        canvas.size = "big"
    assert canvas.size == 280  # kept as it was


def a_seven() -> np.ndarray:
    """A 7 as one stroke of (x, y) points on the 280-pixel canvas (half pixels: exact in float32 too)."""
    corners = np.array([[60.0, 70.0], [220.0, 64.0], [120.0, 230.0]])
    points = np.concatenate([np.linspace(a, b, 30) for a, b in zip(corners[:-1], corners[1:], strict=True)])
    return np.round(2 * points) / 2


def test_numpy_strokes_are_drawn_like_lists() -> None:
    seven = a_seven()
    as_lists = DrawingCanvas(strokes=[seven.tolist()])
    expected = as_lists.drawing()
    assert expected.max() == 1.0
    for given in ([seven], seven[None], seven, seven.astype(np.float32), tuple(map(tuple, seven)), list(seven)):
        canvas = DrawingCanvas()
        canvas.strokes = given
        np.testing.assert_array_equal(canvas.drawing(), expected)
        assert canvas.strokes == as_lists.strokes  # plain lists of [x, y]: the browser draws them too
        json.dumps(canvas.get_state()["strokes"])  # and they can be sent to it


def test_pressure_points_are_drawn_without_the_pressure() -> None:
    seven = a_seven()
    pressure = np.linspace(0.2, 0.9, len(seven))[:, None]
    expected = DrawingCanvas(strokes=[seven.tolist()])
    for given in ([np.hstack([seven, pressure])], [np.hstack([seven, pressure]).tolist()]):
        canvas = DrawingCanvas(strokes=given)
        assert canvas.strokes == expected.strokes
        np.testing.assert_array_equal(canvas.drawing(), expected.drawing())
    with_pressure = np.hstack([seven, pressure])
    np.testing.assert_array_equal(render([with_pressure], 280, 20.0), render([seven], 280, 20.0))
    drawn = draw_strokes([with_pressure], (280, 280), 20.0)
    np.testing.assert_array_equal(drawn, draw_strokes([seven], (280, 280), 20.0))


@pytest.mark.parametrize(
    "value, said",
    [
        ("a 7", "this is str 'a 7'"),
        (7, "this is int 7"),
        (None, "this is NoneType None"),
        ({"x": [1, 2], "y": [3, 4]}, "this is dict"),
        ([[None, None]], "no point of [[None, None]] reads as one"),
        (np.zeros((2, 3, 4)), "no point of"),
    ],
    ids=["text", "number", "None", "dict", "no point", "4 numbers a point"],
)
def test_strokes_with_nothing_to_draw_are_refused_in_one_line(value: object, said: str) -> None:
    canvas = DrawingCanvas(strokes=[[[50, 50], [100, 100]]])
    with pytest.raises(ArgumentError) as caught:
        canvas.strokes = value
    message = str(caught.value)
    assert said in message and "a list of strokes, each a list of [x, y] points" in message and "\n" not in message
    assert canvas.strokes == [[[50, 50], [100, 100]]]  # the drawing is kept


def test_clear_and_state_sync() -> None:
    canvas = DrawingCanvas()
    canvas.set_state({"strokes": [[[10, 10], [40, 40]]]})  # what a message from the browser does
    assert canvas.get_state()["strokes"] == [[[10, 10], [40, 40]]]
    canvas.clear()
    assert canvas.strokes == [] and canvas.drawing().max() == 0.0


class FakeSession:
    """Stands in for tf.Session: 'probabilities' from the image's ink."""

    def __init__(self) -> None:
        self.images: list[np.ndarray] = []

    def run(self, fetch, feed_dict):
        image = np.asarray(feed_dict["x"][0])
        assert feed_dict["keep_prob"] == 1.0
        self.images.append(image)
        q = np.full(10, 0.01)
        q[int(image.sum()) % 10] = 0.91
        return q[None, :]


def live(monkeypatch: pytest.MonkeyPatch, headless: bool) -> tuple[LiveRecognizer, FakeSession, list[str]]:
    monkeypatch.setenv("TFBOOK_HEADLESS", "1" if headless else "0")
    sess, said = FakeSession(), []
    recognizer = LiveRecognizer(DrawingCanvas(), sess, "p", "x", "keep_prob", announce=said.append)
    return recognizer, sess, said


def test_live_recognizer_follows_the_strokes(monkeypatch: pytest.MonkeyPatch) -> None:
    recognizer, sess, said = live(monkeypatch, headless=False)
    assert said == [] and recognizer.canvas.strokes == []
    with pytest.raises(EmptyDrawing, match="draw a digit"):
        recognizer.image  # noqa: B018
    assert "draw one digit" in recognizer.panel.value and sess.images == []

    recognizer.canvas.set_state({"strokes": [[[140, 40], [130, 240]]]})  # the browser sends a stroke
    image = recognizer.image
    assert image.shape == (784,) and image.dtype == np.float32
    assert np.array_equal(sess.images[-1], image)
    assert recognizer.probabilities is not None and recognizer.probabilities.shape == (10,)
    assert "prediction: <b>" in recognizer.panel.value and "data:image/png;base64," in recognizer.panel.value

    recognizer.canvas.set_state({"strokes": [[[140, 40], [130, 240]], [[100, 100], [180, 100]]]})
    assert not np.array_equal(recognizer.image, image)  # updated without re-running a cell

    recognizer.canvas.clear()  # the Clear button
    with pytest.raises(EmptyDrawing):
        recognizer.image  # noqa: B018
    assert "draw one digit" in recognizer.panel.value


def test_live_recognizer_shows_a_hint_for_a_filled_canvas(monkeypatch: pytest.MonkeyPatch) -> None:
    recognizer, sess, said = live(monkeypatch, headless=False)
    rows = [[[10, y], [270, y]] for y in range(10, 280, 40)]  # the widest pen, row after row
    recognizer.canvas.pen_width = 70.0
    recognizer.canvas.set_state({"strokes": rows})
    assert "Clear を押して" in recognizer.panel.value and "inverted" in recognizer.panel.value
    assert recognizer.probabilities is None and sess.images == []  # no confident digit
    with pytest.raises(FilledDrawing, match="HWR-07"):
        recognizer.image  # noqa: B018
    recognizer.canvas.set_state({"strokes": [[[140, 40], [130, 240]]]})
    assert recognizer.image.shape == (784,) and "prediction: <b>" in recognizer.panel.value


def test_headless_run_uses_the_sample_digit(monkeypatch: pytest.MonkeyPatch) -> None:
    recognizer, sess, said = live(monkeypatch, headless=True)
    assert recognizer.canvas.strokes == SAMPLE_STROKES
    assert len(said) == 1 and "sample" in said[0]
    assert recognizer.image.shape == (784,)


def test_display_falls_back_to_a_sentence() -> None:
    recognizer = LiveRecognizer(DrawingCanvas(), FakeSession(), "p", "x", "keep_prob", announce=lambda _: None)
    bundle = recognizer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("Drawing canvas")


# -- the widget's JavaScript ------------------------------------------------------------------

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")

# A minimal DOM and widget model: enough to run render() and push pointer events through it.
HARNESS = r"""
import widget from "./canvas.mjs";
const saved = [];
const listeners = {};
const attrs = { strokes: [], size: 280, pen_width: 20, sync_interval_ms: 100 };
const model = {
  get: (k) => attrs[k],
  set: (k, v) => { attrs[k] = v; },
  save_changes: () => saved.push(JSON.parse(JSON.stringify(attrs.strokes))),
  on: (name, f) => { listeners[name] = f; },
  off: (name) => { delete listeners[name]; },
};
const calls = { strokes: 0, capture: 0 };
const ctxState = {};
function element(tag) {
  const handlers = {};
  return {
    tag, style: {}, children: [], width: 300, height: 150, handlers,
    append(...c) { this.children.push(...c); },
    addEventListener(name, f) { handlers[name] = f; },
    setPointerCapture() { calls.capture++; },
    getBoundingClientRect: () => ({ left: 10, top: 20, width: 560, height: 560 }),  // zoomed 2x
    getContext: () => new Proxy(ctxState, {
      get: (t, k) => (k === "stroke" ? () => calls.strokes++ : t[k] ?? (() => {})),
      set: (t, k, v) => { t[k] = v; return true; },
    }),
  };
}
globalThis.window = { devicePixelRatio: 2, addEventListener() {}, removeEventListener() {} };
globalThis.document = { createElement: element };
const el = element("div");
const cleanup = widget.render({ model, el });
const [root] = el.children;
const [canvas, button] = root.children;
const ev = (x, y, extra = {}) => ({
  pointerId: 7, pointerType: "mouse", button: 0, clientX: x, clientY: y, preventDefault() {}, ...extra,
});
canvas.handlers.pointerdown(ev(110, 120));
for (let k = 1; k <= 20; k++) canvas.handlers.pointermove(ev(110 + 10 * k, 120 + 5 * k));
canvas.handlers.pointermove(ev(2000, -50, { pointerId: 8 }));  // another finger: ignored
canvas.handlers.pointerup(ev(310, 220));
const afterStroke = saved.length;
const captured = calls.capture;
canvas.handlers.pointerdown(ev(50, 50, { button: 2 }));  // right button: no stroke
button.handlers.click();
await new Promise((r) => setTimeout(r, 150));
const afterClear = saved[saved.length - 1];
attrs.strokes = [[[1, 2], [3, 4]]];
listeners["change:strokes"]();  // the kernel sets strokes
const kernelSet = [[[1, 2], null, [3, 4, 5], [NaN, 1], ["6", 7], [8, 9]], "junk"];
attrs.strokes = kernelSet;
listeners["change:strokes"]();
canvas.handlers.pointerdown(ev(110, 120));
canvas.handlers.pointerup(ev(110, 120));
const kept = saved[saved.length - 1];
attrs.pen_width = 5000;
listeners["change:pen_width"]();
const hugePen = ctxState.lineWidth;
button.handlers.click();
// a long scribble: 3,000 moves 4 px apart around a circle of radius 80 (canvas pixels), 15 times round
const onCircle = (k) => ev(10 + 2 * (140 + 80 * Math.cos(0.05 * k)), 20 + 2 * (140 + 80 * Math.sin(0.05 * k)));
canvas.handlers.pointerdown(onCircle(0));
for (let k = 1; k <= 3000; k++) canvas.handlers.pointermove(onCircle(k));
canvas.handlers.pointerup(onCircle(3000));
const scribble = saved[saved.length - 1][0];
cleanup();
console.log(JSON.stringify({
  backing: [canvas.width, canvas.height], css: canvas.style.width, button: button.textContent,
  stroke: saved[afterStroke - 1], syncs: afterStroke, last: afterClear,
  capture: captured, drawn: calls.strokes, listeners: Object.keys(listeners), kept, hugePen, scribble,
}));
"""


def sent_scribble() -> list[list[float]]:
    """The points canvas.js keeps of the harness's scribble (2 px apart or more, rounded to 0.1)."""
    k = np.arange(3001)
    return np.round(np.stack([140 + 80 * np.cos(0.05 * k), 140 + 80 * np.sin(0.05 * k)], axis=1), 1).tolist()


def _esm_file(tmp_path) -> str:
    path = tmp_path / "canvas.mjs"
    path.write_text(str(DrawingCanvas._esm), encoding="utf-8")  # anywidget read canvas.js
    return str(path)


@needs_node
def test_widget_javascript_is_valid(tmp_path) -> None:
    result = subprocess.run([NODE, "--check", _esm_file(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@needs_node
def test_widget_javascript_sends_the_stroke(tmp_path) -> None:
    _esm_file(tmp_path)
    (tmp_path / "harness.mjs").write_text(HARNESS, encoding="utf-8")
    result = subprocess.run([NODE, "harness.mjs"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["backing"] == [560, 560] and out["css"] == "280px"  # sharp on a 2x screen
    assert out["button"] == "Clear" and out["capture"] == 1
    stroke = out["stroke"][0]
    assert len(out["stroke"]) == 1  # one stroke; the right click and the other finger drew nothing
    assert stroke[0] == [50, 50]  # client (110, 120) on a page zoomed 2x -> canvas (50, 50)
    assert stroke[-1] == [150, 100] and len(stroke) == 21
    assert out["syncs"] >= 1  # sent at pointer-up at the latest
    assert out["last"] == []  # Clear sent an empty canvas
    assert out["drawn"] > 20 and out["listeners"] == []
    # strokes set by the kernel: each bad point dropped alone, the strokes kept, then the new dot
    assert out["kept"] == [[[1, 2], [8, 9]], [[50, 50]]]
    assert out["hugePen"] == 70  # a quarter of the 280-pixel canvas, as the kernel allows
    # the scribble's 3,001 points are sent thinned, as the kernel would thin them, and still on the circle
    scribble = np.array(out["scribble"])
    assert 400 <= len(scribble) <= MAX_POINTS + 2
    (kernel_thinned,) = simplify([np.array(sent_scribble())])
    np.testing.assert_array_equal(scribble, kernel_thinned)
    assert np.abs(np.hypot(*(scribble - 140).T) - 80).max() < 0.1
