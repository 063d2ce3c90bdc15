"""The kernel's side of the TensorFlow.js training widget, without a browser.

(The browser's side, the training itself, is tests/browser/test_tfjs_notebook.py.)
What a student can run into here: a run without a browser must say so at
once, not wait forever; a training the browser stopped must say why; a
notebook open in two tabs must not mix two trainings' reports.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tfbook_utils import browser_training
from tfbook_utils.browser_training import BrowserTraining, BrowserTrainingError


def wait(coroutine, seconds: float = 5) -> object:
    """Run ``coroutine`` to its end in a thread of its own (the browser tests' Playwright may hold this one's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(coroutine, timeout=seconds)).result()


def widget() -> BrowserTraining:
    images = np.zeros((10, 784), np.uint8)
    labels = np.arange(10, dtype=np.uint8)
    return BrowserTraining(images, labels, images, labels)


def test_tfjs_widget_sends_the_data_and_tensorflow_js_it_shows(monkeypatch) -> None:
    monkeypatch.delenv("TFBOOK_QUICK_BATCHES", raising=False)
    training = widget()
    assert len(training.train_images) == 7840 and training.train_labels == bytes(range(10))
    assert training.tfjs.startswith("/**") and len(training.tfjs) > 1_000_000
    assert (training.batch_size, training.validation_split, training.epochs, training.max_batches) == (64, 0.15, 1, 0)
    assert "object at 0x" not in repr(training)  # what a saved notebook shows stays the same from run to run


def test_tfjs_widget_without_a_browser_says_so_at_once(monkeypatch) -> None:
    monkeypatch.setenv("TFBOOK_HEADLESS", "1")
    with pytest.raises(BrowserTrainingError, match="open it in JupyterLab"):
        wait(widget().result())


def test_tfjs_widget_reports_the_browsers_error_and_one_tab_only(monkeypatch) -> None:
    monkeypatch.delenv("TFBOOK_HEADLESS", raising=False)
    training = widget()
    training._receive(training, {"page": "a", "kind": "batch", "batch": 1, "loss": 2.3, "accuracy": 0.1,
                                 "ms": 500.0}, [])
    training._receive(training, {"page": "b", "kind": "done", "accuracy": 0.9}, [])  # a second tab
    assert training.history == [(1, 2.3, 0.1, 500.0)] and training.summary is None
    training._receive(training, {"page": "a", "kind": "error", "message": "WebGL is not supported"}, [])
    with pytest.raises(BrowserTrainingError, match="WebGL is not supported"):
        wait(training.result())


def test_tfjs_widget_gives_up_when_no_browser_ever_answers(monkeypatch) -> None:
    monkeypatch.delenv("TFBOOK_HEADLESS", raising=False)
    monkeypatch.setattr(browser_training, "FIRST_WORD_S", 0.5)
    with pytest.raises(BrowserTrainingError, match="No word from the browser"):
        wait(widget().result())


def test_tfjs_widget_quick_runs_train_a_few_batches(monkeypatch, capsys) -> None:
    monkeypatch.setenv("TFBOOK_QUICK_BATCHES", "40")
    training = widget()
    assert (training.max_batches, training.eval_limit) == (40, browser_training.QUICK_EVAL_IMAGES)
    assert capsys.readouterr().out.startswith("Quick run: 40 batches")
