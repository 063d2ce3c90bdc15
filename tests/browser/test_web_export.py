"""The lecture's CNN as a web page (``tfbook.py export-web``), opened from the file system in Chromium.

The page is written from the shipped ``checkpoints/cnn_session-20000`` by
the command an instructor runs, then opened as ``file://.../index.html``
(no server), as a student who double-clicks it:

* a digit drawn with the mouse is read (a 1, a 7 and a small 0 in a corner),
  and the page's probabilities for the 28x28 input it made are the
  notebook recognizer's (``recognizer.predict``) for that input, within 1e-4;
* so are they for a set of inputs handed to the page (MNIST test images and
  the recognizer's own preprocessing of the sample drawing);
* a missing, truncated or altered ``model.js`` gives a clear message on the page.

The largest difference seen is written to build/test-artifacts/browser/.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
from playwright.sync_api import Page

from course_tools.cli import main as tfbook
from tests.lecture_models import cnn_graph
from tfbook_utils import canvas, recognizer
from tfbook_utils.checkpoints import restore
from tfbook_utils.mnist import read_data_sets

from .conftest import artefact
from .drawing import DIGITS, to_page

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("web") / "recognizer page"  # a space, as in many students' folders
    assert tfbook(["export-web", str(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def python_recognizer():
    """``image -> probabilities`` of the lecture's CNN in TensorFlow, as the recognizer notebook computes them."""
    graph = tf.Graph()
    with graph.as_default():
        model = cnn_graph()
        sess = tf.Session(graph=graph)
        restore(sess, "cnn_session-20000", verbose=False)
    yield lambda image: recognizer.predict(sess, model["p"], model["x"], model["keep_prob"], image)
    sess.close()


def open_page(page: Page, folder: Path) -> bool:
    page.goto(folder.joinpath("index.html").as_uri())
    return page.evaluate("() => window.tfbook.ready")


def status(page: Page) -> tuple[str, str]:
    return page.locator("#status").inner_text(), page.locator("#status").get_attribute("class") or ""


@pytest.mark.browser
def test_web_export_reads_drawn_digits_as_the_python_recognizer_does(page: Page, exported: Path,
                                                                     python_recognizer) -> None:
    assert open_page(page, exported) is True
    assert "backend cpu" in page.locator("#about").inner_text()
    board = page.locator("#canvas")
    worst = 0.0
    for name, strokes in DIGITS:
        for stroke in strokes:
            points = [to_page(board, point) for point in stroke]
            page.mouse.move(*points[0])
            page.mouse.down()
            for point in points[1:]:
                page.mouse.move(*point, steps=4)
            page.mouse.up()
        page.wait_for_function("() => window.tfbook.lastProbabilities !== null")
        page.wait_for_timeout(300)  # the prediction that follows the pen-up
        shown = page.evaluate("() => [window.tfbook.lastInput, window.tfbook.lastProbabilities]")
        image, probabilities = np.array(shown[0], dtype=np.float32), np.array(shown[1])
        assert image.shape == (784,) and image.max() == pytest.approx(1.0)
        assert int(np.argmax(probabilities)) == int(name[0]), (name, probabilities.round(3))
        assert f"prediction: {name[0]}" in page.locator("#prediction").inner_text()
        difference = float(np.abs(python_recognizer(image) - probabilities).max())
        assert difference < TOLERANCE, name
        worst = max(worst, difference)
        page.locator("#board").screenshot(path=artefact(f"web-export-{name}.png"))
        page.locator("#clear").click()
    artefact("web-export-drawn.json").write_text(json.dumps({"max_abs_difference": worst}))


@pytest.mark.browser
def test_web_export_matches_the_python_recognizer_on_a_set_of_inputs(page: Page, exported: Path,
                                                                     python_recognizer) -> None:
    mnist = read_data_sets(one_hot=True)
    sample = recognizer.preprocess(canvas.render([np.array(s) for s in canvas.SAMPLE_STROKES], 280, 20.0))
    inputs = [*mnist.test.images[:12], sample, np.zeros(784, np.float32)]  # a blank image too
    assert open_page(page, exported) is True
    page_probabilities = np.array([page.evaluate("(x) => window.tfbook.predict(x)", image.tolist())
                                   for image in inputs])
    python_probabilities = np.array([python_recognizer(image) for image in inputs])
    difference = float(np.abs(page_probabilities - python_probabilities).max())
    artefact("web-export-inputs.json").write_text(json.dumps({"inputs": len(inputs), "max_abs_difference": difference}))
    assert difference < TOLERANCE
    assert list(page_probabilities.argmax(axis=1)[:12]) == list(mnist.test.labels[:12].argmax(axis=1))


def damage(folder: Path, how: str) -> None:
    model = folder / "model.js"
    if how == "missing":
        model.unlink()
    elif how == "truncated":
        model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    else:  # one weight changed: still valid JavaScript, but the checksum differs
        text = model.read_text(encoding="ascii")
        at = text.index('"weightData": "') + 5000
        model.write_text(text[:at] + ("B" if text[at] != "B" else "C") + text[at + 1:], encoding="ascii")


@pytest.mark.browser
@pytest.mark.parametrize("how", ["missing", "truncated", "altered"])
def test_web_export_says_clearly_when_the_model_file_is_missing_or_damaged(
        how: str, page: Page, exported: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(exported, tmp_path / "page"))
    damage(folder, how)
    assert open_page(page, folder) is False
    text, kind = status(page)
    assert kind == "problem"
    assert "model.js" in text and ("missing" if how == "missing" else "damaged") in text
    assert "export-web" in text  # what to do about it


def test_web_export_refuses_a_checkpoint_of_another_network(tmp_path: Path, capsys) -> None:
    assert tfbook(["export-web", "--checkpoint", "mdc_session-4000", str(tmp_path / "page")]) == 1
    said = capsys.readouterr().out.strip()
    assert said.startswith("export-web: mdc_session-4000 is not a checkpoint of Chapter05's two-layer CNN"), said
    assert "Traceback" not in said and not (tmp_path / "page" / "model.js").exists()
