"""The measuring side of the bench: one process per measurement.

Every measurement runs in a fresh Python process (``controller.Worker``
starts it) so that its peak memory is its own and no measurement warms up
another's caches.  A worker sets up (builds the notebook's graph, traces
Keras' train function, ...), says ``ready``, then answers one command at a
time on stdin / stdout: that lets the controller make several workers take
turns.  Protocol lines start with ``PREFIX``; anything else a worker prints
is ignored, and its stderr goes to a log file.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from ..catalog import Notebook
from . import models
from .profile import profile_steps

PREFIX = "@@bench "  # protocol lines on a worker's stdout start with this


def send(message: dict) -> None:
    sys.stdout.write(PREFIX + json.dumps(message) + "\n")
    sys.stdout.flush()


def receive() -> dict | None:
    """The controller's next command; None when it says quit (or is gone)."""
    line = sys.stdin.readline()
    if not line:
        return None
    command = json.loads(line)
    return None if command.get("op") == "quit" else command


def _rss_kb() -> int:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _maxrss_kb() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _patch_matmul_gradient() -> None:
    """EXPERIMENT for the bench's settings section, never used by the notebooks.

    TensorFlow's gradient of ``y = matmul(a, b)`` with respect to ``a`` is
    ``matmul(dy, b, transpose_b=True)``.  oneDNN's sgemm runs that call with
    a transposed 3136x1024 weight at about a quarter of its usual rate on
    this CPU; transposing the weight first and multiplying plainly gives the
    same numbers faster.  This swaps TensorFlow's registered gradient
    function to measure how much of the CNN's step that costs.  (The
    permutation is fed through ``placeholder_with_default`` because Grappler
    would otherwise fold the transpose straight back into the matmul.)
    """
    from tensorflow.python.framework import ops
    from tensorflow.python.ops import array_ops, gen_math_ops

    entry = ops._gradient_registry._registry["MatMul"]  # noqa: SLF001
    original = entry["type"]

    def gradient(op, grad):
        if op.get_attr("transpose_a") or op.get_attr("transpose_b"):
            return original(op, grad)
        a, b = op.inputs
        b_t = array_ops.transpose(b, array_ops.placeholder_with_default([1, 0], [2]))
        return gen_math_ops.mat_mul(grad, b_t), gen_math_ops.mat_mul(a, grad, transpose_a=True)

    entry["type"] = gradient


def graph(spec: dict, model: Notebook) -> None:
    """The notebook's training loop, ``steps`` steps per command."""
    if spec.get("patch_matmul_gradient"):
        _patch_matmul_gradient()
    if spec.get("legacy_variables"):
        import tensorflow.compat.v1 as tf

        tf.disable_resource_variables()  # TF 1.x's reference variables, what the lecture ran on
    ns, source = models.build_graph(model)
    run = compile(models.loop_source(model), f"<{model.tag} loop>", "exec")
    ns["steps"] = spec["warmup"]
    exec(run, ns)
    send({"ready": True, "source": source, "rss_ready_kb": _rss_kb()})
    while (command := receive()) is not None:
        ns["steps"] = command["steps"]
        start = time.perf_counter()
        exec(run, ns)
        send({"seconds": time.perf_counter() - start})


def keras(spec: dict, model: Notebook) -> None:
    """The model's tf.keras twin in ``model.fit``, ``steps`` steps per command."""
    import keras

    from tfbook_utils.mnist import read_data_sets

    mnist = read_data_sets(one_hot=True)
    net = models.keras_model(model)
    images, labels = mnist.train.images, mnist.train.labels
    batch = model.bench.batch

    class Clock(keras.callbacks.Callback):
        """Time from the end of the first batch to the end of the last one:
        the steady state, without fit's set-up of its data pipeline."""

        def __init__(self) -> None:
            super().__init__()
            self.ends: list[float] = []

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.perf_counter())

    def fit(steps: int) -> tuple[float, float]:
        """``steps`` training steps in fit calls of at most one epoch.
        Returns the seconds the steps took in all (calls' set-up included)
        and at the steady state."""
        done, whole, steady, steady_steps = 0, 0.0, 0.0, 0
        for n in models.fit_calls(steps, batch):
            clock = Clock()
            start = time.perf_counter()
            net.fit(images, labels, batch_size=batch, epochs=1, steps_per_epoch=n, shuffle=True,
                    verbose=0, callbacks=[clock])
            whole += time.perf_counter() - start
            done += len(clock.ends)
            steady += clock.ends[-1] - clock.ends[0]
            steady_steps += len(clock.ends) - 1
        if done != steps:
            raise RuntimeError(f"Keras ran {done} steps, not {steps}")
        return whole, (steady / steady_steps * steps if steady_steps else whole)

    fit(max(spec["warmup"], 2))  # traces the train function
    send({"ready": True, "jit_compile": bool(net.jit_compile), "run_eagerly": bool(net.run_eagerly),
          "keras": keras.__version__, "rss_ready_kb": _rss_kb()})
    while (command := receive()) is not None:
        whole, steady = fit(command["steps"])
        send({"seconds": steady, "seconds_whole_fit": whole})


def matmul(spec: dict) -> None:
    """The yardstick: an n x n fp32 matmul in graph mode, ``steps`` per command."""
    import tensorflow.compat.v1 as tf

    tf.disable_eager_execution()
    n = spec["n"]
    rng = np.random.default_rng(0)
    a = tf.Variable(rng.standard_normal((n, n), dtype=np.float32))
    b = tf.Variable(rng.standard_normal((n, n), dtype=np.float32))
    product = tf.matmul(a, b)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    for _ in range(3):
        sess.run(product.op)  # the op only: its 16 MB result is not copied out
    send({"ready": True, "rss_ready_kb": _rss_kb()})
    while (command := receive()) is not None:
        start = time.perf_counter()
        for _ in range(command["steps"]):
            sess.run(product.op)
        send({"seconds": time.perf_counter() - start})


def load(spec: dict) -> None:
    """MNIST's first and warm loads, and ``next_batch`` against TF 1.x's."""
    from tfbook_utils.mnist import DataSet, read_data_sets

    rss_import = _rss_kb()
    send({"ready": True})
    receive()
    start = time.perf_counter()
    mnist = read_data_sets(one_hot=True)
    first = time.perf_counter() - start
    warm = []
    for _ in range(3):  # running the loading cell again: the old data set lives until the new one is made
        start = time.perf_counter()
        mnist = read_data_sets(one_hot=True)
        warm.append(time.perf_counter() - start)
    second = statistics.median(warm)
    # next_batch: what one call costs, and whether it copies only its rows
    np.random.seed(0)
    batch = mnist.train.next_batch(50)
    copied = sum(a.nbytes for a in batch)
    shares = any(np.shares_memory(a, mnist.train.images) for a in batch)
    # ours against TF 1.x's algorithm (the "before"), each on a fresh data set
    # over the same calls: time first, then memory (tracemalloc slows numpy)
    calls = spec["next_batch_calls"]
    feeding = {}
    for name, make in (("ours", DataSet), ("tf1", TF1StyleDataSet)):
        data = make(mnist.train.images, mnist.train.labels)
        start = time.perf_counter()
        for _ in range(calls):
            data.next_batch(50)
        seconds = (time.perf_counter() - start) / calls
        data = make(mnist.train.images, mnist.train.labels)
        tracemalloc.start()
        for _ in range(calls):
            data.next_batch(50)
        extra = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        feeding[name] = {"seconds": seconds, "extra_bytes": extra}
    send({"first_s": first, "second_s": second, "next_batch_s": feeding["ours"]["seconds"],
          "next_batch_bytes": copied, "next_batch_shares_memory": bool(shares), "rss_import_kb": rss_import,
          "next_batch_calls": calls, "next_batch_extra_bytes": feeding["ours"]["extra_bytes"],
          "tf1_next_batch_s": feeding["tf1"]["seconds"], "tf1_next_batch_extra_bytes": feeding["tf1"]["extra_bytes"]})


class TF1StyleDataSet:
    """The "before" of ``next_batch``: TF 1.x's algorithm, for comparison only.
    At every epoch's start it stores a shuffled copy of all the images and
    labels (172 MB for MNIST's training set) and then hands out slices of it."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self._images, self._labels = images, labels
        self._index_in_epoch = 0
        self._epochs_completed = 0

    def _shuffled_copy(self) -> None:
        perm = np.arange(len(self._images))
        np.random.shuffle(perm)
        self._images, self._labels = self._images[perm], self._labels[perm]

    def next_batch(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        start = self._index_in_epoch
        if self._epochs_completed == 0 and start == 0:
            self._shuffled_copy()
        if start + batch_size <= len(self._images):
            self._index_in_epoch = start + batch_size
            return self._images[start:self._index_in_epoch], self._labels[start:self._index_in_epoch]
        self._epochs_completed += 1
        rest_images, rest_labels = self._images[start:], self._labels[start:]
        self._shuffled_copy()
        self._index_in_epoch = batch_size - len(rest_images)
        end = self._index_in_epoch
        return (np.concatenate([rest_images, self._images[:end]]),
                np.concatenate([rest_labels, self._labels[:end]]))


def evaluation(spec: dict, model: Notebook) -> None:
    """One test-set evaluation (whole, or in ``chunk``s) per timed repetition."""
    ns, source = models.build_graph(model)
    chunk = spec["chunk"]
    run = compile(models.eval_source(model, chunk), f"<{model.tag} eval>", "exec")
    start = time.perf_counter()
    exec(run, ns)
    first = time.perf_counter() - start
    send({"ready": True, "source": source})
    while (command := receive()) is not None:
        times = []
        for _ in range(command["steps"]):
            start = time.perf_counter()
            exec(run, ns)
            times.append(time.perf_counter() - start)
        send({"seconds": statistics.median(times), "first_s": first})


def restore(spec: dict, model: Notebook) -> None:
    """``checkpoints.restore`` of a shipped checkpoint into the freshly built graph."""
    from tfbook_utils.checkpoints import restore

    ns, source = models.build_graph(model)
    send({"ready": True, "source": source})
    receive()
    start = time.perf_counter()
    path = restore(ns["sess"], spec["checkpoint"], verbose=False)
    seconds = time.perf_counter() - start
    send({"seconds": seconds, "path": str(path)})


def recognizer(spec: dict, model: Notebook) -> None:
    """The handwriting recognizer's steps on the sample drawing: render the
    strokes, ``preprocess``, ``predict`` (medians of ``steps`` runs)."""
    from tfbook_utils import recognizer
    from tfbook_utils.canvas import SAMPLE_STROKES, render

    ns, source = models.build_graph(model)
    weights = f"random ({model.ships} not shipped; the latency does not depend on the weights)"
    if spec.get("checkpoint"):
        from tfbook_utils.checkpoints import restore

        restore(ns["sess"], spec["checkpoint"], verbose=False)
        weights = "checkpoint " + spec["checkpoint"]
    sess, p, x, keep_prob = ns["sess"], ns["p"], ns["x"], ns["keep_prob"]

    def once() -> tuple[float, float, float]:
        t0 = time.perf_counter()
        image = render(SAMPLE_STROKES, 280, 20.0)
        t1 = time.perf_counter()
        pixels = recognizer.preprocess(image)
        t2 = time.perf_counter()
        probabilities = recognizer.predict(sess, p, x, keep_prob, pixels)
        t3 = time.perf_counter()
        assert probabilities.shape == (10,)
        return t1 - t0, t2 - t1, t3 - t2

    first = once()
    send({"ready": True, "source": source, "weights": weights})
    command = receive()
    runs = [once() for _ in range(command["steps"] if command else 20)]
    medians = [statistics.median(r[k] for r in runs) for k in range(3)]
    totals = statistics.median(r[1] + r[2] for r in runs)
    send({"first": first, "render_s": medians[0], "preprocess_s": medians[1], "predict_s": medians[2],
          "image_to_probabilities_s": totals})


def profile(spec: dict, model: Notebook) -> None:
    """Traced training steps: where the step's time goes (see ``profile.py``)."""
    ns, source = models.build_graph(model)
    run = compile(models.loop_source(model), f"<{model.tag} loop>", "exec")
    ns["steps"] = spec["warmup"]
    exec(run, ns)
    send({"ready": True, "source": source})
    command = receive()
    send(profile_steps(ns, model, command["steps"] if command else 10))


# What each kind of worker runs; the ones that take a model get the catalog's notebook named by spec["model"].
WITHOUT_MODEL: dict[str, Callable[[dict], None]] = {"matmul": matmul, "load": load}
WITH_MODEL: dict[str, Callable[[dict, Notebook], None]] = {
    "graph": graph, "keras": keras, "eval": evaluation, "restore": restore, "recognizer": recognizer,
    "profile": profile,
}


def main(spec: dict, started: float) -> None:
    """Entry point of a measuring process (``controller.WORKER_CODE``):
    run the measurement ``spec`` asks for, then report peak memory.  An
    exception becomes an ``error`` message, so the controller can say what
    failed instead of waiting."""
    imported = time.perf_counter() - started
    kind = spec["kind"]
    try:
        if kind in WITHOUT_MODEL:
            WITHOUT_MODEL[kind](spec)
        elif kind in WITH_MODEL:
            WITH_MODEL[kind](spec, models.MODELS[spec["model"]])
        else:
            raise ValueError(f"unknown worker kind {kind!r}")
    except Exception as error:
        import traceback

        traceback.print_exc()
        send({"error": f"{type(error).__name__}: {str(error)[:300]}"})
        return
    send({"done": True, "maxrss_kb": _maxrss_kb(), "import_s": imported})
