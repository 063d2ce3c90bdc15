"""Train a network in the browser with TensorFlow.js, from a notebook.

``BrowserTraining`` is an anywidget: the kernel sends MNIST (as bytes) and
TensorFlow.js itself (the copy shipped in ``tfjs/``, no CDN) to the browser
tab that shows the notebook; the widget's JavaScript (``browser_training.js``)
builds the model of the TensorFlow.js MNIST walkthrough (conv 16 - pool -
conv 32 - pool - conv 32 - dense 64 - dense 10), trains it there with
``model.fitDataset`` and draws loss and accuracy after every batch.  The
kernel only listens: each batch, each epoch and the final test accuracy
come back as messages and land in ``history``, ``epochs_done`` and ``summary``.

The kernel handles messages from the browser only while it is idle or
while a cell *awaits*: ``await training.result()`` waits for the end of the
training without blocking them, so "Run All" goes on with the numbers.
Without a browser (a headless run) nothing can train, and ``result``
says so at once instead of waiting forever.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path

import anywidget
import numpy as np
import traitlets

from .environment import headless
from .errors import TfbookError

HERE = Path(__file__).parent
TFJS = HERE / "tfjs" / "tf.es2017.min.js"  # TensorFlow.js as npm ships it (see tfjs/package-lock.json)
FIRST_WORD_S = 120  # the browser must have loaded the widget by then
SILENCE_S = 300  # ... and report at least this often while it trains
QUICK_EVAL_IMAGES = 1000  # quick runs of the course's tests evaluate on this many images


class BrowserTrainingError(TfbookError):
    """The browser could not train, or there is no browser to train in."""


def _quick_batches() -> int:
    """The course's quick runs (its tests) set TFBOOK_QUICK_BATCHES to train only that many batches."""
    value = os.environ.get("TFBOOK_QUICK_BATCHES", "")
    return int(value) if value.isdigit() else 0


class BrowserTraining(anywidget.AnyWidget):
    """The walkthrough's training, run by TensorFlow.js in this notebook's browser tab."""

    _esm = HERE / "browser_training.js"
    tfjs = traitlets.Unicode().tag(sync=True)
    train_images = traitlets.Bytes().tag(sync=True)  # uint8, 784 per image
    train_labels = traitlets.Bytes().tag(sync=True)  # uint8, the digit
    test_images = traitlets.Bytes().tag(sync=True)
    test_labels = traitlets.Bytes().tag(sync=True)
    batch_size = traitlets.Int(64).tag(sync=True)
    validation_split = traitlets.Float(0.15).tag(sync=True)
    epochs = traitlets.Int(1).tag(sync=True)
    max_batches = traitlets.Int(0).tag(sync=True)  # 0: every batch
    eval_limit = traitlets.Int(0).tag(sync=True)  # 0: every validation and test image
    run_id = traitlets.Unicode().tag(sync=True)

    def __init__(self, train_images: np.ndarray, train_labels: np.ndarray, test_images: np.ndarray,
                 test_labels: np.ndarray, batch_size: int = 64, validation_split: float = 0.15,
                 epochs: int = 1) -> None:
        quick = _quick_batches()
        super().__init__(
            tfjs=TFJS.read_text(encoding="utf-8"),
            train_images=np.ascontiguousarray(train_images, dtype=np.uint8).tobytes(),
            train_labels=np.ascontiguousarray(train_labels, dtype=np.uint8).tobytes(),
            test_images=np.ascontiguousarray(test_images, dtype=np.uint8).tobytes(),
            test_labels=np.ascontiguousarray(test_labels, dtype=np.uint8).tobytes(),
            batch_size=batch_size, validation_split=validation_split, epochs=epochs,
            max_batches=quick, eval_limit=QUICK_EVAL_IMAGES if quick else 0, run_id=uuid.uuid4().hex,
        )
        self.started: dict | None = None  # backend, parameters, number of batches
        self.history: list[tuple[int, float, float, float]] = []  # (batch, loss, accuracy, ms) per batch
        self.epochs_done: list[dict] = []  # validation loss and accuracy after each epoch
        self.summary: dict | None = None  # test loss and accuracy, training seconds
        self._problem = ""
        self._page = ""  # the one browser tab whose reports count (the notebook may be open twice)
        self._heard: float | None = None
        self.on_msg(self._receive)
        if quick:
            print(f"Quick run: {quick} batches, validation and test on {QUICK_EVAL_IMAGES:,} images each.")

    def _receive(self, widget: object, content: dict, buffers: list) -> None:
        self._page = self._page or content.get("page", "")
        if content.get("page", "") != self._page:
            return
        self._heard = time.monotonic()
        kind = content.get("kind")
        if kind == "start":
            self.started = content
        elif kind == "batch":
            self.history.append((content["batch"], content["loss"], content["accuracy"], content["ms"]))
        elif kind == "epoch":
            self.epochs_done.append(content)
        elif kind == "done":
            self.summary = content
        elif kind == "error":
            self._problem = content.get("message", "unknown error")

    async def result(self) -> dict:
        """Wait (without blocking the browser's messages) until the training
        is over; the final report: test ``accuracy`` and ``loss``, ``seconds``."""
        if headless():
            raise BrowserTrainingError(
                "This notebook runs without a browser, and TensorFlow.js trains in the browser: "
                "open it in JupyterLab, Notebook 7 or Colab and run it there."
            )
        waiting_since = time.monotonic()
        while self.summary is None:
            if self._problem:
                raise BrowserTrainingError(f"The browser stopped the training: {self._problem}")
            quiet = time.monotonic() - (self._heard or waiting_since)
            if quiet > (SILENCE_S if self._heard else FIRST_WORD_S):
                raise BrowserTrainingError(
                    f"No word from the browser for {quiet:.0f} s: is the widget above shown in an open tab? "
                    "Run the cell that creates it again, then this one."
                )
            await asyncio.sleep(0.2)
        return self.summary

    def __repr__(self) -> str:  # the text shown where no widget can be (and saved with the notebook)
        return "TensorFlow.js training (the widget appears when the notebook runs in Jupyter)"
