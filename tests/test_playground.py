"""playground.py without a browser: the toy data sets, the network, the
training, and the controls driven from Python as a click would."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

import tfbook_utils  # noqa: F401  (quiet TensorFlow)
from tfbook_utils import playground
from tfbook_utils.playground import DATASETS, Playground, Settings, Trainer, make_dataset


@pytest.mark.parametrize("name", DATASETS)
def test_shapes_labels_and_extent(name: str) -> None:
    data = make_dataset(name, n=200, seed=1)
    assert data.name == name
    assert data.x.shape == (200, 2) and data.x.dtype == np.float32
    assert data.t.shape == (200, 1) and data.t.dtype == np.float32
    assert set(np.unique(data.t)) == {0.0, 1.0}
    x1min, x1max, x2min, x2max = data.extent
    assert x1max - x1min == x2max - x2min == 30.0
    inside = (data.x[:, 0] > x1min) & (data.x[:, 0] < x1max) & (data.x[:, 1] > x2min) & (data.x[:, 1] < x2max)
    assert inside.mean() > 0.9  # the plots show nearly every point (the lecture's blocks spill over a little)


@pytest.mark.parametrize("name", ["xor", "circle", "spiral"])
def test_labels_are_balanced(name: str) -> None:
    for n in (200, 64, 101):
        positives = int(make_dataset(name, n=n, seed=2).t.sum())
        assert positives in (n // 2, n - n // 2)


def test_blocks_keep_the_lectures_proportions_and_centres() -> None:
    data = make_dataset("blocks", n=65, seed=3)
    assert int(data.t.sum()) == 25  # 15 + 15 + 10 at t = 0, 25 at t = 1, as in [SNE-02]
    many = make_dataset("blocks", n=6500, seed=3)
    assert int(many.t.sum()) == 2500
    assert np.allclose(many.x[many.t[:, 0] == 1].mean(axis=0), [20, 20], atol=0.3)


@pytest.mark.parametrize("name", DATASETS)
def test_same_seed_same_points_other_seed_other_points(name: str) -> None:
    a, b, c = (make_dataset(name, seed=s) for s in (7, 7, 8))
    assert np.array_equal(a.x, b.x) and np.array_equal(a.t, b.t)
    assert not np.array_equal(a.x, c.x)


@pytest.mark.parametrize("name", DATASETS)
def test_noise_scales_the_spread(name: str) -> None:
    clean, one, two = (make_dataset(name, n=400, noise=noise, seed=4) for noise in (0.0, 1.0, 2.0))
    assert np.array_equal(clean.t, one.t) and np.array_equal(one.t, two.t)  # same points, only moved
    assert np.allclose(two.x - clean.x, 2 * (one.x - clean.x), atol=1e-4)
    assert np.abs(two.x - clean.x).mean() > 1.5 * np.abs(one.x - clean.x).mean() > 0


@pytest.mark.parametrize(("name", "variance"), [("blocks", 22.0), ("xor", 18.0)])
def test_noise_one_is_the_lectures_variance(name: str, variance: float) -> None:
    clean, noisy = (make_dataset(name, n=8000, noise=noise, seed=5) for noise in (0.0, 1.0))
    assert np.var(noisy.x - clean.x) == pytest.approx(variance, rel=0.05)


def test_circle_geometry() -> None:
    data = make_dataset("circle", n=400, noise=0.0, seed=6)
    radius = np.hypot(data.x[:, 0], data.x[:, 1])
    inner, outer = radius[data.t[:, 0] == 1], radius[data.t[:, 0] == 0]
    assert inner.max() <= 0.5 * playground.RADIUS + 1e-4
    assert outer.min() >= 0.7 * playground.RADIUS - 1e-4 and outer.max() <= playground.RADIUS + 1e-4
    angles = np.arctan2(data.x[:, 1], data.x[:, 0])
    assert np.histogram(angles, bins=4, range=(-np.pi, np.pi))[0].min() > 60  # all the way round


def test_spiral_geometry() -> None:
    data = make_dataset("spiral", n=400, noise=0.0, seed=7)
    arms = []
    for label in (1.0, 0.0):
        arm = data.x[data.t[:, 0] == label]
        radius = np.hypot(arm[:, 0], arm[:, 1])
        arm, radius = arm[np.argsort(radius)], np.sort(radius)
        turn = np.unwrap(np.arctan2(arm[1:, 0], arm[1:, 1]))  # the angle as the points are made, sin/cos
        assert np.all(np.diff(turn) > 0)  # winds one way as it grows
        assert (turn[-1] - turn[0]) / (2 * np.pi) == pytest.approx(1.75, abs=0.02)
        assert radius[-1] == pytest.approx(playground.RADIUS, rel=0.02)
        arms.append(arm)
    assert np.allclose(arms[0], -arms[1], atol=1e-4)  # the other arm, half a turn round


def test_split_keeps_every_point_once() -> None:
    data = make_dataset("xor", n=200, seed=8)
    train, test = data.split()
    assert len(train.x) == len(test.x) == 100
    assert np.array_equal(np.concatenate([train.x, test.x]), data.x)
    assert 30 < train.t.sum() < 70  # shuffled, not sorted by label


def test_network_layers_follow_the_settings() -> None:
    for layers in (0, 1, 3):
        net = playground.build_network(replace(Settings(), hidden_layers=layers, num_units=5), (-15, 15, -15, 15))
        shapes = [v.shape.as_list() for v in net.graph.get_collection("trainable_variables")]
        expected = ([[2, 5], [5]] + [[5, 5], [5]] * (layers - 1) if layers else []) + [[5 if layers else 2, 1], [1]]
        assert shapes == expected


def test_default_network_learns_xor_quickly() -> None:
    trainer = Trainer(Settings())
    assert trainer.history["train_loss"][0] == pytest.approx(math.log(2), abs=1e-6)  # p = 0.5 everywhere at first
    trainer.train(300)
    assert trainer.step == 300 and len(trainer.history["step"]) == 301
    assert trainer.evaluate(trainer.test_set)[1] > 0.9
    assert trainer.history["train_loss"][-1] < 0.25
    grid = trainer.probabilities(size=21)
    assert grid.shape == (21, 21)
    # XOR: high in the (-,-) and (+,+) corners, low in the other two
    assert min(grid[2, 2], grid[-3, -3]) > 0.8 and max(grid[2, -3], grid[-3, 2]) < 0.2
    trainer.close()


def test_without_hidden_layers_xor_cannot_be_learned() -> None:
    trainer = Trainer(replace(Settings(), hidden_layers=0))
    trainer.train(300)
    assert trainer.evaluate(trainer.train_set)[1] < 0.8  # one straight line cannot separate XOR
    trainer.close()


def test_l2_regularisation_keeps_the_weights_small() -> None:
    norms = []
    for l2 in (0.0, 0.1):
        trainer = Trainer(replace(Settings(), l2=l2))
        trainer.train(300)
        with trainer.net.graph.as_default():
            weights = [v for v in trainer.net.graph.get_collection("trainable_variables") if len(v.shape) == 2]
        norms.append(sum(float(np.sum(trainer.sess.run(w) ** 2)) for w in weights))
        trainer.close()
    assert norms[1] < 0.5 * norms[0]


def test_a_huge_learning_rate_neither_crashes_nor_hides_it() -> None:
    trainer = Trainer(replace(Settings(), learning_rate=10.0, activation="relu", noise=2.0))
    trainer.train(200)
    assert trainer.step >= 1
    text = trainer.summary()
    assert text.startswith(f"step {trainer.step}:")
    trainer.close()


def test_headless_show_trains_once_and_prints_the_result(monkeypatch, capsys) -> None:
    monkeypatch.setenv("TFBOOK_HEADLESS", "1")
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    pg = Playground(replace(Settings(), steps=300))
    pg.show()
    out = capsys.readouterr()
    assert out.err == ""
    last = out.out.strip().splitlines()[-1]
    assert last.startswith("Result: XOR (DNE), 300 steps, test accuracy ")
    assert float(last.rsplit(" ", 1)[1]) > 0.9
    assert len(shown) == 1 and shown[0].data[:8] == b"\x89PNG\r\n\x1a\n"


def test_controls_reset_and_train_as_clicks_would(monkeypatch) -> None:
    monkeypatch.setenv("TFBOOK_HEADLESS", "0")
    pg = Playground(replace(Settings(), steps=100))
    box = pg.widget()
    assert box is pg.widget()  # built once
    assert pg.image.value[:4] == b"\x89PNG"

    pg.train_button.click()
    assert pg.trainer.step == 100 and "test accuracy" in pg.status.value
    pg.controls["steps"].value = 300  # only the steps per Train: the network is kept
    assert pg.trainer.step == 100
    pg.train_button.click()
    assert pg.trainer.step == 400

    pg.controls["hidden_layers"].value = 1  # a new network starts over
    assert pg.trainer.step == 0 and pg.settings.hidden_layers == 1 and pg.settings.steps == 300
    pg.controls["dataset"].value = "circle"
    assert pg.trainer.data.name == "circle" and "press Train" in pg.status.value

    first = pg.trainer.sess.run(pg.trainer.net.graph.get_collection("trainable_variables")[0])
    pg.reset_button.click()
    again = pg.trainer.sess.run(pg.trainer.net.graph.get_collection("trainable_variables")[0])
    assert pg.trainer.step == 0 and not np.allclose(first, again)  # Reset draws new initial weights
    assert not pg.train_button.disabled
