"""A Neural Network Playground inside the notebook.

The slides (pages 49 and 79) send students to the "Neural Network
Playground" web page to watch gradient descent draw a decision boundary.
This module gives the same experiment in Jupyter, offline, with the
lecture's own kind of code: a ``tf.compat.v1`` graph of placeholders,
Variables and a ``GradientDescentOptimizer``.

* ``make_dataset`` -- the 2-D toy sets: the lecture's four Gaussian blocks
  (Single layer network example), its XOR blocks (Double layer network
  example), a circle and a spiral; ``noise`` scales the spread.
* ``build_network`` -- the network for a ``Settings`` (hidden layers, units,
  activation, learning rate, L2 regularisation).
* ``Trainer`` -- a session, the training steps and the loss history.
* ``Playground`` -- the controls (ipywidgets) and the plots, redrawn while
  it trains.  Without a browser (``TFBOOK_HEADLESS=1``, set by the
  project's runner) it trains once with the defaults and shows the result.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import tensorflow.compat.v1 as tf
from matplotlib.figure import Figure

from .environment import headless

DATASETS = ("blocks", "xor", "circle", "spiral")
TITLES = {"blocks": "Gaussian blocks (SNE)", "xor": "XOR (DNE)", "circle": "Circle", "spiral": "Spiral"}
ACTIVATIONS: dict[str, Callable] = {"tanh": tf.nn.tanh, "relu": tf.nn.relu, "sigmoid": tf.nn.sigmoid}
# The web Playground's choices, so its exercises carry over.
LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
L2_RATES = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
STEP_CHOICES = (100, 300, 1000, 3000)
GRID = 100  # the boundary is shaded from GRID x GRID probabilities, as in [SNE-08]

# Spread at noise = 1.0: the lecture's variances (22 for the blocks, 18 for
# XOR); for the circle and the spiral, a jitter of 1 (a twelfth of their radius).
SPREAD = {"blocks": math.sqrt(22.0), "xor": math.sqrt(18.0), "circle": 1.0, "spiral": 1.0}
RADIUS = 12.0  # of the circle and the spiral, inside the (-15, 15) square that XOR uses


@dataclass(frozen=True)
class DataSet:
    """Points ``x`` (n x 2) with labels ``t`` (n x 1, 0 or 1), in random
    order, and the square ``extent`` (x1 min, x1 max, x2 min, x2 max) the
    plots show."""

    name: str
    x: np.ndarray
    t: np.ndarray
    extent: tuple[float, float, float, float]

    def split(self, test_fraction: float = 0.5) -> tuple[DataSet, DataSet]:
        """Training and test sets.  The points are already shuffled, so the
        first part is a random sample (the web Playground also holds half
        back by default, to show over-fitting in the test loss)."""
        cut = int(round(len(self.x) * (1.0 - test_fraction)))
        return replace(self, x=self.x[:cut], t=self.t[:cut]), replace(self, x=self.x[cut:], t=self.t[cut:])


def _gaussian_blocks(
    rng: np.random.Generator, blocks: list[tuple[int, tuple[float, float], int]], spread: float
) -> tuple[np.ndarray, np.ndarray]:
    """Points around each block centre, and their labels (as [SNE-02] and [DNE-02] make them)."""
    x = np.concatenate([rng.normal(centre, spread, size=(n, 2)) for n, centre, _ in blocks])
    t = np.concatenate([np.full(n, label) for n, _, label in blocks])
    return x, t


def _counts(n: int, weights: list[int]) -> list[int]:
    """``n`` split in proportion to ``weights`` (the last takes the rounding)."""
    counts = [int(round(n * w / sum(weights))) for w in weights[:-1]]
    return counts + [n - sum(counts)]


def make_dataset(name: str, n: int = 200, noise: float = 1.0, seed: int | None = None) -> DataSet:
    """One of ``DATASETS`` with ``n`` points.

    ``noise`` multiplies the spread: 1.0 gives the lecture's variances for
    "blocks" and "xor", 0.0 puts every point on its block centre, circle or
    spiral arm.  "blocks" keeps the lecture's 15 : 15 : 10 : 25 proportions
    (three blocks t = 0, one t = 1); the other sets are half t = 0, half t = 1.
    The same ``seed`` gives the same points.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if n < 4 or noise < 0:
        raise ValueError("need n >= 4 points and noise >= 0")
    rng = np.random.default_rng(seed)
    spread = noise * SPREAD[name]
    if name == "blocks":
        sizes = _counts(n, [15, 15, 10, 25])
        centres = [(7.0, 7.0), (22.0, 7.0), (7.0, 22.0), (20.0, 20.0)]
        x, t = _gaussian_blocks(rng, list(zip(sizes, centres, [0, 0, 0, 1])), spread)
        extent = (0.0, 30.0, 0.0, 30.0)
    elif name == "xor":
        sizes = _counts(n, [1, 1, 1, 1])
        centres = [(-7.0, -7.0), (-7.0, 7.0), (7.0, -7.0), (7.0, 7.0)]
        x, t = _gaussian_blocks(rng, list(zip(sizes, centres, [1, 0, 0, 1])), spread)
        extent = (-15.0, 15.0, -15.0, 15.0)
    else:
        inner, outer = _counts(n, [1, 1])
        if name == "circle":
            # t = 1 inside half the radius, t = 0 on a ring beyond 0.7 of it (as the web Playground)
            radius = np.concatenate([rng.uniform(0.0, 0.5, inner), rng.uniform(0.7, 1.0, outer)]) * RADIUS
            angle = rng.uniform(0.0, 2.0 * np.pi, n)
        else:
            # two arms of 1.75 turns; the t = 0 arm is the t = 1 arm turned by half a turn
            along = np.concatenate([np.arange(inner) / inner, np.arange(outer) / outer])
            radius = along * RADIUS
            angle = along * 1.75 * 2.0 * np.pi + np.concatenate([np.zeros(inner), np.full(outer, np.pi)])
        x = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
        x = x + rng.normal(0.0, 1.0, size=x.shape) * spread
        t = np.concatenate([np.ones(inner), np.zeros(outer)])
        extent = (-15.0, 15.0, -15.0, 15.0)
    order = rng.permutation(n)
    return DataSet(name, x[order].astype(np.float32), t[order].reshape(n, 1).astype(np.float32), extent)


@dataclass(frozen=True)
class Settings:
    """Everything the controls set.  The defaults learn XOR in a few
    hundred steps, like the web Playground's first screen."""

    dataset: str = "xor"
    noise: float = 0.5  # half the lecture's spread: a clear boundary to start from
    hidden_layers: int = 2
    num_units: int = 4
    activation: str = "tanh"
    learning_rate: float = 0.3
    l2: float = 0.0
    steps: int = 1000  # per press of Train
    points: int = 200  # half for training, half for testing
    seed: int = 20160615

    def describe(self) -> str:
        layers = f"{self.hidden_layers} hidden layer{'s' * (self.hidden_layers != 1)}"
        if self.hidden_layers:
            layers += f" x {self.num_units} {self.activation}"
        return (f"{TITLES[self.dataset]}, noise {self.noise:g}, {layers}, "
                f"learning rate {self.learning_rate:g}, L2 {self.l2:g}")


@dataclass
class Network:
    """The tensors of one network, in its own graph."""

    graph: tf.Graph
    x: tf.Tensor
    t: tf.Tensor
    p: tf.Tensor
    loss: tf.Tensor
    accuracy: tf.Tensor
    train_step: tf.Operation
    init: tf.Operation


def build_network(settings: Settings, extent: tuple[float, float, float, float], seed: int | None = None) -> Network:
    """The lecture's network (tanh / ReLU / sigmoid hidden layers, sigmoid
    output, plain gradient descent) with ``settings.hidden_layers`` layers of
    ``settings.num_units`` units, in a new ``tf.Graph``.

    Two things differ from [DNE-04] / [DNE-05], both so that one learning
    rate suits every data set and size, as in the web Playground: the
    inputs are rescaled to about [-1, 1] over ``extent`` (the lecture's SNE
    scaled its biases with ``mult`` for the same reason), and the loss is
    the mean, not the sum, of the cross-entropy.  The L2 term adds
    ``settings.l2 * sum(w**2) / 2`` over the weights.  ``seed`` (default
    ``settings.seed``) fixes the initial weights.
    """
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(settings.seed if seed is None else seed)
        x = tf.placeholder(tf.float32, [None, 2])
        centre = [(extent[0] + extent[1]) / 2.0, (extent[2] + extent[3]) / 2.0]
        half = [(extent[1] - extent[0]) / 2.0, (extent[3] - extent[2]) / 2.0]
        hidden = (x - centre) / half

        weights = []
        size = 2
        for layer in range(1, settings.hidden_layers + 1):
            w = tf.Variable(tf.truncated_normal([size, settings.num_units]), name=f"w{layer}")
            b = tf.Variable(tf.zeros([settings.num_units]), name=f"b{layer}")
            hidden = ACTIVATIONS[settings.activation](tf.matmul(hidden, w) + b)
            weights.append(w)
            size = settings.num_units

        w0 = tf.Variable(tf.zeros([size, 1]), name="w0")
        b0 = tf.Variable(tf.zeros([1]), name="b0")
        f = tf.matmul(hidden, w0) + b0
        p = tf.nn.sigmoid(f)
        weights.append(w0)

        t = tf.placeholder(tf.float32, [None, 1])
        # -(t log p + (1 - t) log(1 - p)), in the form that stays finite when p reaches 0 or 1
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=t, logits=f))
        penalty = settings.l2 * tf.add_n([tf.nn.l2_loss(w) for w in weights])
        train_step = tf.train.GradientDescentOptimizer(settings.learning_rate).minimize(loss + penalty)
        correct_prediction = tf.equal(tf.sign(p - 0.5), tf.sign(t - 0.5))
        accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
        init = tf.global_variables_initializer()
    return Network(graph, x, t, p, loss, accuracy, train_step, init)


@dataclass
class Trainer:
    """The data, network and session for one ``Settings``, and the loss
    after every step (the curves need every point, not every 100th)."""

    settings: Settings = field(default_factory=Settings)
    weight_seed: int | None = None  # default: settings.seed

    def __post_init__(self) -> None:
        self.data = make_dataset(self.settings.dataset, self.settings.points, self.settings.noise, self.settings.seed)
        self.train_set, self.test_set = self.data.split()
        self.net = build_network(self.settings, self.data.extent, self.weight_seed)
        self.sess = tf.Session(graph=self.net.graph)
        self.sess.run(self.net.init)
        self.step = 0
        self.history: dict[str, list[float]] = {"step": [], "train_loss": [], "test_loss": []}
        self._record()

    def evaluate(self, data: DataSet) -> tuple[float, float]:
        """(loss, accuracy) on ``data``."""
        loss_val, acc_val = self.sess.run(
            [self.net.loss, self.net.accuracy], feed_dict={self.net.x: data.x, self.net.t: data.t}
        )
        return float(loss_val), float(acc_val)

    def _record(self) -> None:
        self.history["step"].append(self.step)
        self.history["train_loss"].append(self.evaluate(self.train_set)[0])
        self.history["test_loss"].append(self.evaluate(self.test_set)[0])

    @property
    def diverged(self) -> bool:
        return not math.isfinite(self.history["train_loss"][-1])

    def train(self, steps: int, every: int = 0, callback: Callable[[Trainer], None] | None = None) -> None:
        """``steps`` gradient-descent steps on the whole training set (as the
        lecture's toy examples do); ``callback(self)`` every ``every`` steps.
        Stops early once the loss is no longer a number."""
        feed = {self.net.x: self.train_set.x, self.net.t: self.train_set.t}
        for _ in range(steps):
            self.sess.run(self.net.train_step, feed_dict=feed)
            self.step += 1
            self._record()
            if self.diverged:
                break
            if callback is not None and every and self.step % every == 0:
                callback(self)
        if callback is not None:
            callback(self)

    def probabilities(self, size: int = GRID) -> np.ndarray:
        """P(t = 1) on a ``size`` x ``size`` grid over the extent, rows bottom to top."""
        x1min, x1max, x2min, x2max = self.data.extent
        x1, x2 = np.meshgrid(np.linspace(x1min, x1max, size), np.linspace(x2min, x2max, size))
        locations = np.stack([x1.ravel(), x2.ravel()], axis=1)
        return self.sess.run(self.net.p, feed_dict={self.net.x: locations}).reshape(size, size)

    def summary(self) -> str:
        test_loss, test_acc = self.evaluate(self.test_set)
        train_acc = self.evaluate(self.train_set)[1]
        return (
            f"step {self.step}: training accuracy {train_acc:.3f}, test accuracy {test_acc:.3f}, "
            f"test loss {test_loss:.3f}"
        )

    def close(self) -> None:
        self.sess.close()


class Plot:
    """The decision boundary (left) and the loss curves (right), kept as
    one matplotlib Figure whose artists are updated in place: redrawing a
    100 x 100 image and two lines is fast enough to do while training."""

    def __init__(self) -> None:
        self.figure = Figure(figsize=(10, 4.6), dpi=80)
        self.boundary = self.figure.add_subplot(1, 2, 1)
        self.curves = self.figure.add_subplot(1, 2, 2)
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.83, wspace=0.25)
        self._trainer: Trainer | None = None

    def _setup(self, trainer: Trainer) -> None:
        ax = self.boundary
        ax.clear()
        extent = trainer.data.extent
        self.image = ax.imshow(
            np.full((GRID, GRID), 0.5), origin="lower", extent=extent, cmap="RdBu", vmin=0.0, vmax=1.0, alpha=0.55
        )
        self.contour = None
        for data, alpha in ((trainer.train_set, 1.0), (trainer.test_set, 0.3)):
            t = data.t[:, 0]
            ax.scatter(data.x[t == 1, 0], data.x[t == 1, 1], marker="x", color="navy", alpha=alpha,
                       label="t = 1" if alpha == 1.0 else None)
            ax.scatter(data.x[t == 0, 0], data.x[t == 0, 1], marker="o", facecolors="none", edgecolors="darkred",
                       alpha=alpha, label="t = 0" if alpha == 1.0 else None)
        ax.set_xlim(extent[:2])
        ax.set_ylim(extent[2:])
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        ax.set_title("P(t = 1): blue is higher, line P = 0.5; faint: test set", fontsize=9)
        ax.legend(loc="upper left", fontsize=7, framealpha=0.7)

        ax = self.curves
        ax.clear()
        (self.train_line,) = ax.plot([], [], label="training loss")
        (self.test_line,) = ax.plot([], [], label="test loss")
        ax.set_xlabel("Step")
        ax.set_ylabel("Loss (mean cross-entropy)")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right")
        self._trainer = trainer

    def update(self, trainer: Trainer) -> None:
        if trainer is not self._trainer:
            self._setup(trainer)
        grid = trainer.probabilities()
        if np.all(np.isfinite(grid)):
            self.image.set_data(grid)
            if self.contour is not None:
                self.contour.remove()
                self.contour = None
            if grid.min() < 0.5 < grid.max():
                x1min, x1max, x2min, x2max = trainer.data.extent
                self.contour = self.boundary.contour(
                    np.linspace(x1min, x1max, GRID), np.linspace(x2min, x2max, GRID), grid, levels=[0.5],
                    colors="black", linewidths=1.0,
                )
        history = trainer.history
        self.train_line.set_data(history["step"], history["train_loss"])
        self.test_line.set_data(history["step"], history["test_loss"])
        finite = [v for v in history["train_loss"] + history["test_loss"] if math.isfinite(v)]
        self.curves.set_xlim(0, max(10, trainer.step))
        self.curves.set_ylim(0, max(0.8, 1.05 * max(finite, default=1.0)))
        self.figure.suptitle(f"{trainer.settings.describe()}\n{trainer.summary()}", fontsize=10)

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png")
        return buffer.getvalue()


class Playground:
    """Controls beside the plots.  Changing a setting starts over with new
    weights (and new points, for the data set and noise), as the web
    Playground does; Train runs more steps on the current network and
    redraws the plots about ``redraws`` times while it trains (a redraw
    takes a tenth of a second or two; the steps themselves far less)."""

    def __init__(self, settings: Settings | None = None, redraws: int = 20) -> None:
        self.settings = settings or Settings()
        self.redraws = redraws
        self.trainer = Trainer(self.settings)
        self.plot = Plot()
        self._widget = None
        self._resets = 0

    def reset(self, settings: Settings | None = None) -> None:
        """Start over with ``settings`` (default: the current ones, with
        other initial weights: Reset should not repeat the last run)."""
        self.trainer.close()
        if settings is None:
            self._resets += 1
        self.settings = settings or self.settings
        self.trainer = Trainer(self.settings, self.settings.seed + self._resets)

    def train(self, steps: int | None = None) -> str:
        """Train ``steps`` (default ``settings.steps``) more steps; the
        one-line summary."""
        steps = steps or self.settings.steps
        every = max(10, steps // self.redraws)
        self.trainer.train(steps, every, self._redraw if self._widget is not None else None)
        if self.trainer.diverged:
            return (f"step {self.trainer.step}: the loss is no longer a number; the learning rate is too large "
                    "for this network. Lower it (that starts over).")
        return self.trainer.summary()

    def result(self) -> str:
        """The line the project's run table shows."""
        _, accuracy = self.trainer.evaluate(self.trainer.test_set)
        return f"Result: {TITLES[self.settings.dataset]}, {self.trainer.step} steps, test accuracy {accuracy:.3f}"

    def show(self) -> None:
        """Display the playground and train once with the current settings.
        Without a browser: train once, then show the final plots as an image."""
        from IPython.display import Image, display

        if headless():
            print("Headless run (no browser to press the buttons in): one training run with the default settings.")
            self.train()
            self.plot.update(self.trainer)
            display(Image(data=self.plot.png()))
        else:
            display(self.widget())
            self._status(self.train())
        print(self.result())

    # --- the widgets -----------------------------------------------------------------

    def widget(self):
        """The ipywidgets box (built once)."""
        if self._widget is None:
            self._widget = self._build_widget()
            self._redraw(self.trainer)
        return self._widget

    def _build_widget(self):
        import ipywidgets as widgets

        s = self.settings
        style = {"description_width": "115px"}
        wide = widgets.Layout(width="300px")
        self.controls = {
            "dataset": widgets.Dropdown(options=[(TITLES[n], n) for n in DATASETS], value=s.dataset,
                                        description="data", style=style, layout=wide),
            # continuous_update=False: start over once the slider is let go, not at every pixel
            "noise": widgets.FloatSlider(value=s.noise, min=0.0, max=2.0, step=0.1, description="noise",
                                         continuous_update=False, style=style, layout=wide),
            "hidden_layers": widgets.IntSlider(value=s.hidden_layers, min=0, max=4, description="hidden layers",
                                               continuous_update=False, style=style, layout=wide),
            "num_units": widgets.IntSlider(value=s.num_units, min=1, max=8, description="units per layer",
                                           continuous_update=False, style=style, layout=wide),
            "activation": widgets.Dropdown(options=list(ACTIVATIONS), value=s.activation, description="activation",
                                           style=style, layout=wide),
            "learning_rate": widgets.Dropdown(options=[(f"{r:g}", r) for r in LEARNING_RATES], value=s.learning_rate,
                                              description="learning rate", style=style, layout=wide),
            "l2": widgets.Dropdown(options=[(f"{r:g}", r) for r in L2_RATES], value=s.l2,
                                   description="L2 regularization", style=style, layout=wide),
            "steps": widgets.Dropdown(options=list(STEP_CHOICES), value=s.steps, description="steps per Train",
                                      style=style, layout=wide),
        }
        for control in self.controls.values():
            control.observe(self._on_setting, names="value")
        self.train_button = widgets.Button(description="Train", button_style="primary", icon="play")
        self.reset_button = widgets.Button(description="Reset", icon="refresh")
        self.train_button.on_click(self._on_train)
        self.reset_button.on_click(self._on_reset)
        self.status = widgets.HTML()
        # the plots shrink with a narrow notebook, the controls keep their width
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="100%", max_width="800px", min_width="0"))
        panel = widgets.VBox([*self.controls.values(), widgets.HBox([self.train_button, self.reset_button]),
                              self.status], layout=widgets.Layout(width="310px", min_width="310px"))
        plots = widgets.Box([self.image], layout=widgets.Layout(flex="1 1 0", min_width="0"))
        return widgets.HBox([panel, plots], layout=widgets.Layout(width="100%"))

    def _redraw(self, trainer: Trainer) -> None:
        self.plot.update(trainer)
        self.image.value = self.plot.png()

    def _status(self, text: str) -> None:
        self.status.value = f'<div style="font-size:12px;line-height:1.4">{text}</div>'

    def _guarded(self, action: Callable[[], str]) -> None:
        """Run a button's action; a problem shows in the status line, since
        output from a widget callback would not reach the notebook."""
        for button in (self.train_button, self.reset_button):
            button.disabled = True
        try:
            self._status("training ...")
            self._status(action())
        except Exception as error:  # noqa: BLE001 - shown to the student instead of lost
            self._status(f"<b>Error:</b> {type(error).__name__}: {error}")
        finally:
            for button in (self.train_button, self.reset_button):
                button.disabled = False

    def _on_setting(self, change: dict) -> None:
        def apply() -> str:
            values = {name: control.value for name, control in self.controls.items()}
            settings = replace(self.settings, **values)
            if settings.steps != self.settings.steps and replace(settings, steps=self.settings.steps) == self.settings:
                self.settings = settings  # only the number of steps per Train changed: keep the network
                return self.trainer.summary()
            self.reset(settings)
            self._redraw(self.trainer)
            return "new settings: press Train"

        self._guarded(apply)

    def _on_train(self, button: object) -> None:
        self._guarded(self.train)

    def _on_reset(self, button: object) -> None:
        def apply() -> str:
            self.reset()
            self._redraw(self.trainer)
            return "new weights: press Train"

        self._guarded(apply)
