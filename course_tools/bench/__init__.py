"""How fast the lecture's code runs on this machine: ``python3 tfbook.py bench``.

Everything is measured in one run and written as a markdown table to
``benchmarks/latest.md`` (``--quick``: a few steps only, written to
``build/bench-quick/latest.md``; it checks that the bench works, its numbers
mean little).

* Training throughput of the lecture's four MNIST models, built and fed as
  the notebooks do (graph mode, ``sess.run(train_step, feed_dict=...)`` with
  ``mnist.train.next_batch``), against the same architecture, batch size,
  optimizer and number of steps in ``tf.keras`` ``model.fit`` (Keras 3, its
  defaults: a ``tf.function``, no XLA on a CPU-only machine).  The model code
  is the notebook's own cells, read from chapters/ (the table says which
  notebook), so the bench measures what students run.  Graph mode and Keras run in
  separate processes and take turns, A, B, A, B, ..., so that a machine
  shared with other work slows both alike; each side's best round is
  reported (slower rounds measure the other work, as `timeit` advises).
* The two-layer CNN's achieved GFLOP/s (FLOPs counted analytically, see
  ``cnn_flops``) against a 2048x2048 fp32 matmul timed in the same rounds.
* Where the CNN's training step goes (``profile``: traced steps, per part).
* MNIST load (first call in a fresh process, then a second call), the
  restore time of each shipped checkpoint, the handwriting recognizer's
  latency, the notebooks' test-set evaluations, and (``settings``) the CNN
  under different TensorFlow thread / oneDNN / XLA settings.
* Peak memory (RSS) of every measurement: each runs in its own process.

``python3 tfbook.py bench CNN load`` measures only what is named: model tags
(MSE, MSL, MDC, CNN) and ``load``, ``profile``, ``settings``, ``eval``,
``restore``, ``recognizer``.  Without names, everything.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import select
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..catalog import REPO_ROOT

CHECKPOINT_DIR = REPO_ROOT / "checkpoints"

BENCH_DIR = REPO_ROOT / "benchmarks"
QUICK_DIR = REPO_ROOT / "build" / "bench-quick"
PREFIX = "@@bench "  # protocol lines on a worker's stdout start with this
SECTIONS = ("load", "profile", "settings", "eval", "restore", "recognizer")


# ---------------------------------------------------------------------------
# The lecture's models, as the notebooks build them
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Model:
    tag: str
    title: str
    seed: int
    batch: int
    optimizer: str  # for the table
    learning_rate: float
    loop_tag: int  # number of the training-loop cell: cells 01 .. loop_tag-1 set the model up
    steps: int  # lecture's training steps
    eval_every: int  # lecture's evaluation interval
    eval_chunk: int | None  # the lecture evaluates the test set in chunks of this (None: all at once)
    round_steps: int  # steps per measured round in a full bench
    feed_extra: str = ""  # more of the training feed_dict, as the notebook writes it
    eval_feed: str = ""  # more of the evaluation feed_dict


MODELS: dict[str, Model] = {
    m.tag: m
    for m in (
        Model("MSE", "softmax (MSE)", 20160604, 100, "Adam()", 0.001, 7, 2000, 100, None, 2000),
        Model("MSL", "1,024 units (MSL)", 20160612, 100, "Adam()", 0.001, 6, 2000, 100, None, 600),
        Model("MDC", "one-layer CNN (MDC)", 20160703, 100, "Adam(0.0005)", 0.0005, 7, 4000, 100,
              None, 200),
        Model("CNN", "two-layer CNN (CNN)", 20160704, 50, "Adam(1e-4)", 0.0001, 8, 20000, 500,
              2500, 200, feed_extra=", keep_prob: 0.5", eval_feed=", keep_prob: 1.0"),
    )
}
ROUNDS = 5  # best of 5: on a shared 2-core machine best of 3 still varied by 15 % between runs
QUICK_ROUND_STEPS = 3
WARMUP_STEPS = 20
QUICK_WARMUP_STEPS = 2
MATMUL_N = 2048
SETTINGS_ROUND_STEPS = 40
SETTINGS_ROUNDS = 5
EVAL_ALT_CHUNK = 1000


def loop_source(model: Model) -> str:
    """The body of the notebook's training loop, without its reporting."""
    return (
        "for _ in range(steps):\n"
        f"    batch_xs, batch_ts = mnist.train.next_batch({model.batch})\n"
        f"    sess.run(train_step, feed_dict={{x: batch_xs, t: batch_ts{model.feed_extra}}})\n"
    )


def eval_source(model: Model, chunk: int | None) -> str:
    """One evaluation of the whole test set: at once, or in chunks (summed
    losses, mean accuracy) as [CNN-08] does."""
    if chunk is None:
        return (
            "loss_val, acc_val = sess.run([loss, accuracy],\n"
            f"    feed_dict={{x: mnist.test.images, t: mnist.test.labels{model.eval_feed}}})\n"
        )
    return (
        "loss_val, acc_val = 0.0, 0.0\n"
        f"for c in range(0, 10000, {chunk}):\n"
        f"    l, a = sess.run([loss, accuracy], feed_dict={{x: mnist.test.images[c:c + {chunk}],\n"
        f"        t: mnist.test.labels[c:c + {chunk}]{model.eval_feed}}})\n"
        "    loss_val += l\n"
        f"    acc_val += a / {10000 // chunk}\n"
    )


def _strip_magics(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def notebook_cells(model: Model) -> tuple[list[str], str] | None:
    """Cells [TAG-01] .. the cell before the training loop, from the lecture's
    notebook, and where they came from; None if no notebook has these tags."""
    import nbformat

    from ..catalog import CHAPTERS
    from ..checks import TAG

    for path in sorted(CHAPTERS.glob("*/*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        nb = nbformat.read(path, as_version=4)
        cells = nb.cells
        found: dict[int, str] = {}
        for index, cell in enumerate(cells[:-1]):
            if cell.cell_type != "markdown":
                continue
            for prefix, number in TAG.findall(cell.source):
                if prefix == model.tag and cells[index + 1].cell_type == "code":
                    found[int(number)] = cells[index + 1].source
        wanted = range(1, model.loop_tag)
        if found and all(n in found for n in wanted):
            where = f"{path.relative_to(REPO_ROOT)} [{model.tag}-01..{model.loop_tag - 1:02d}]"
            return [_strip_magics(found[n]) for n in wanted], where
    return None


def cnn_flops(batch: int = 50) -> dict:
    """Floating-point operations of one training step of the two-layer CNN.

    A multiply-add counts 2.  Forward: conv1 28x28x32 outputs of 5x5x1,
    conv2 14x14x64 outputs of 5x5x32, fc 3136x1024 and 1024x10.  Backward:
    the gradient with respect to the weights costs as much as the forward
    product, and so does the gradient with respect to the layer's input,
    except for conv1 whose input is the image (TensorFlow does not compute
    it).  Bias, ReLU, pooling, softmax, dropout and Adam's update are not
    counted (under 1 % together).
    """
    macs = {
        "conv1": 28 * 28 * 32 * 5 * 5 * 1,
        "conv2": 14 * 14 * 64 * 5 * 5 * 32,
        "fc1": 3136 * 1024,
        "fc2": 1024 * 10,
    }
    forward = 2 * sum(macs.values())
    backward = 2 * (macs["conv1"] + 2 * (macs["conv2"] + macs["fc1"] + macs["fc2"]))
    return {"forward": forward * batch, "backward": backward * batch, "total": (forward + backward) * batch}


# ---------------------------------------------------------------------------
# Worker side: one process per measurement
# ---------------------------------------------------------------------------


def _send(message: dict) -> None:
    sys.stdout.write(PREFIX + json.dumps(message) + "\n")
    sys.stdout.flush()


def _rss_kb() -> int:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _maxrss_kb() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _graph_namespace(model: Model) -> tuple[dict, str]:
    picked = notebook_cells(model)
    if picked is None:
        raise RuntimeError(f"no notebook under chapters/ has the cells [{model.tag}-01..{model.loop_tag - 1:02d}]")
    cells, source = picked
    namespace: dict = {"__name__": "__bench__"}
    for cell in cells:
        exec(compile(cell, f"<{model.tag} cell>", "exec"), namespace)
    missing = [n for n in ("sess", "train_step", "x", "t", "mnist", "loss", "accuracy") if n not in namespace]
    if missing:
        raise RuntimeError(f"the {model.tag} cells define no {', '.join(missing)}")
    return namespace, source


def _keras_model(model: Model):
    import keras

    L = keras.layers  # noqa: N806
    tn = keras.initializers.TruncatedNormal
    c01 = keras.initializers.Constant(0.1)
    if model.tag == "MSE":
        body = [L.Dense(10, activation="softmax", kernel_initializer="zeros")]
    elif model.tag == "MSL":
        body = [L.Dense(1024, activation="relu", kernel_initializer=tn(stddev=1.0)),
                L.Dense(10, activation="softmax", kernel_initializer="zeros")]
    elif model.tag == "MDC":
        body = [L.Reshape((28, 28, 1)),
                L.Conv2D(16, 5, padding="same", use_bias=False, kernel_initializer=tn(stddev=0.1)),
                L.MaxPooling2D(2, padding="same"), L.Flatten(),
                L.Dense(1024, activation="relu", kernel_initializer=tn(stddev=1.0)),
                L.Dense(10, activation="softmax", kernel_initializer="zeros")]
    else:
        body = [L.Reshape((28, 28, 1)),
                L.Conv2D(32, 5, padding="same", activation="relu", kernel_initializer=tn(stddev=0.1),
                         bias_initializer=c01),
                L.MaxPooling2D(2, padding="same"),
                L.Conv2D(64, 5, padding="same", activation="relu", kernel_initializer=tn(stddev=0.1),
                         bias_initializer=c01),
                L.MaxPooling2D(2, padding="same"), L.Flatten(),
                L.Dense(1024, activation="relu", kernel_initializer=tn(stddev=1.0), bias_initializer=c01),
                L.Dropout(0.5),
                L.Dense(10, activation="softmax", kernel_initializer="zeros")]
    keras.utils.set_random_seed(model.seed)
    net = keras.Sequential([keras.Input((784,)), *body])
    # the lecture's loss is the *sum* of the cross-entropy over the batch; TF 1's Adam had epsilon 1e-8
    net.compile(optimizer=keras.optimizers.Adam(model.learning_rate, epsilon=1e-8),
                loss=keras.losses.CategoricalCrossentropy(reduction="sum"))
    return net


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


def _worker_graph(spec: dict, model: Model) -> None:
    if spec.get("patch_matmul_gradient"):
        _patch_matmul_gradient()
    if spec.get("legacy_variables"):
        import tensorflow.compat.v1 as tf

        tf.disable_resource_variables()  # TF 1.x's reference variables, what the lecture ran on
    ns, source = _graph_namespace(model)
    run = compile(loop_source(model), f"<{model.tag} loop>", "exec")
    ns["steps"] = spec["warmup"]
    exec(run, ns)
    _send({"ready": True, "source": source, "rss_ready_kb": _rss_kb()})
    while (command := _receive()) is not None:
        ns["steps"] = command["steps"]
        start = time.perf_counter()
        exec(run, ns)
        _send({"seconds": time.perf_counter() - start})


def _worker_keras(spec: dict, model: Model) -> None:
    import keras

    from tfbook_utils.mnist import read_data_sets

    mnist = read_data_sets(one_hot=True)
    net = _keras_model(model)
    images, labels = mnist.train.images, mnist.train.labels

    class Clock(keras.callbacks.Callback):
        """Time from the end of the first batch to the end of the last one:
        the steady state, without fit's set-up of its data pipeline."""

        def __init__(self) -> None:
            super().__init__()
            self.ends: list[float] = []

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.perf_counter())

    def fit(steps: int) -> tuple[float, float]:
        """``steps`` training steps in fit calls of at most one epoch (numpy
        input runs out after one pass over the 55,000 images): MSE's 2,000
        steps of 100 are 4 calls of 500.  Returns the seconds the steps took
        in all (calls' set-up included) and at the steady state."""
        calls = -(-steps // (len(images) // model.batch))
        done, whole, steady, steady_steps = 0, 0.0, 0.0, 0
        for k in range(calls):
            n = steps // calls + (1 if k < steps % calls else 0)
            clock = Clock()
            start = time.perf_counter()
            net.fit(images, labels, batch_size=model.batch, epochs=1, steps_per_epoch=n, shuffle=True,
                    verbose=0, callbacks=[clock])
            whole += time.perf_counter() - start
            done += len(clock.ends)
            steady += clock.ends[-1] - clock.ends[0]
            steady_steps += len(clock.ends) - 1
        if done != steps:
            raise RuntimeError(f"Keras ran {done} steps, not {steps}")
        return whole, (steady / steady_steps * steps if steady_steps else whole)

    fit(max(spec["warmup"], 2))  # traces the train function
    _send({"ready": True, "jit_compile": bool(net.jit_compile), "run_eagerly": bool(net.run_eagerly),
           "keras": keras.__version__, "rss_ready_kb": _rss_kb()})
    while (command := _receive()) is not None:
        whole, steady = fit(command["steps"])
        _send({"seconds": steady, "seconds_whole_fit": whole})


def _worker_matmul(spec: dict) -> None:
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
    _send({"ready": True, "rss_ready_kb": _rss_kb()})
    while (command := _receive()) is not None:
        start = time.perf_counter()
        for _ in range(command["steps"]):
            sess.run(product.op)
        _send({"seconds": time.perf_counter() - start})


def _worker_load(spec: dict) -> None:
    from tfbook_utils.mnist import DataSet, read_data_sets

    rss_import = _rss_kb()
    _send({"ready": True})
    _receive()
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
    calls = spec.get("next_batch_calls", 2200)
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
    _send({"first_s": first, "second_s": second, "next_batch_s": feeding["ours"]["seconds"],
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


def _worker_eval(spec: dict, model: Model) -> None:
    ns, source = _graph_namespace(model)
    chunk = spec["chunk"]
    run = compile(eval_source(model, chunk), f"<{model.tag} eval>", "exec")
    start = time.perf_counter()
    exec(run, ns)
    first = time.perf_counter() - start
    _send({"ready": True, "source": source})
    while (command := _receive()) is not None:
        times = []
        for _ in range(command["steps"]):
            start = time.perf_counter()
            exec(run, ns)
            times.append(time.perf_counter() - start)
        _send({"seconds": statistics.median(times), "first_s": first})


def _worker_restore(spec: dict, model: Model) -> None:
    from tfbook_utils.checkpoints import restore

    ns, source = _graph_namespace(model)
    _send({"ready": True, "source": source})
    _receive()
    start = time.perf_counter()
    path = restore(ns["sess"], spec["checkpoint"], verbose=False)
    seconds = time.perf_counter() - start
    _send({"seconds": seconds, "path": str(path)})


def _worker_recognizer(spec: dict, model: Model) -> None:
    try:
        from tfbook_utils import recognizer
    except ImportError as error:
        _send({"ready": True, "missing": f"tfbook_utils.recognizer cannot be imported ({error})"})
        return
    if not all(hasattr(recognizer, name) for name in ("preprocess", "predict")):
        _send({"ready": True, "missing": "tfbook_utils.recognizer has no preprocess / predict yet"})
        return
    ns, source = _graph_namespace(model)
    weights = "random (cnn_session-20000 not shipped; the latency does not depend on the weights)"
    if spec.get("checkpoint"):
        from tfbook_utils.checkpoints import restore

        restore(ns["sess"], spec["checkpoint"], verbose=False)
        weights = "checkpoint " + spec["checkpoint"]
    try:
        from tfbook_utils.canvas import SAMPLE_STROKES, render

        def drawing() -> np.ndarray:
            return render(SAMPLE_STROKES, 280, 20.0)
    except ImportError:  # no canvas module: a plain square "0" stands in
        def drawing() -> np.ndarray:
            image = np.zeros((280, 280))
            image[60:220, 90:110] = image[60:220, 170:190] = image[60:80, 90:190] = image[200:220, 90:190] = 1.0
            return image

    sess, p, x, keep_prob = ns["sess"], ns["p"], ns["x"], ns["keep_prob"]

    def once() -> tuple[float, float, float]:
        t0 = time.perf_counter()
        image = drawing()
        t1 = time.perf_counter()
        pixels = recognizer.preprocess(image)
        t2 = time.perf_counter()
        probabilities = recognizer.predict(sess, p, x, keep_prob, pixels)
        t3 = time.perf_counter()
        assert probabilities.shape == (10,)
        return t1 - t0, t2 - t1, t3 - t2

    first = once()
    _send({"ready": True, "source": source, "weights": weights})
    command = _receive()
    runs = [once() for _ in range(command["steps"] if command else 20)]
    medians = [statistics.median(r[k] for r in runs) for k in range(3)]
    totals = statistics.median(r[1] + r[2] for r in runs)
    _send({"first": first, "render_s": medians[0], "preprocess_s": medians[1], "predict_s": medians[2],
           "image_to_probabilities_s": totals})


# Where the CNN's step goes: op-name patterns of the graph [CNN-03]..[CNN-06]
# builds (TensorFlow names ops after their type), the FLOPs they do, in order.
PROFILE_PARTS: list[tuple[str, str, float]] = [
    ("conv1 forward + filter gradient", r"^(Relu|Conv2D|gradients/Conv2D_grad/.*)$", 2 * 2 * 50 * 627_200),
    ("conv2 forward (fused conv + bias + relu)", r"^(Relu_1|Conv2D_1)$", 2 * 50 * 10_035_200),
    ("conv2 backward (input + filter gradients)", r"^gradients/Conv2D_1_grad/", 2 * 2 * 50 * 10_035_200),
    ("fc1 forward (fused matmul + bias + relu)", r"^(Relu_2|MatMul)$", 2 * 50 * 3_211_264),
    ("fc1 input gradient: matmul(dy, w2, transpose_b=True)", r"^gradients/MatMul_grad/MatMul$",
     2 * 50 * 3_211_264),
    ("fc1 weight gradient: matmul(h, dy, transpose_a=True)", r"^gradients/MatMul_grad/MatMul_1$",
     2 * 50 * 3_211_264),
    ("Adam updates (3.3 M parameters, memory-bound)", r"^Adam/", 0),
    ("pooling, ReLU / bias gradients, softmax, dropout, loss", r"", 0),
]


IDLE = "no op running (executor, feeding the batch, between ops)"


def _worker_profile(spec: dict, model: Model) -> None:
    """Trace training steps (RunMetadata, FULL_TRACE) and report, per part of
    the step, the wall-clock time its ops were busy (the union of their
    intervals: TensorFlow runs independent ops side by side)."""
    import tensorflow.compat.v1 as tf

    ns, source = _graph_namespace(model)
    run = compile(loop_source(model), f"<{model.tag} loop>", "exec")
    ns["steps"] = spec["warmup"]
    exec(run, ns)
    _send({"ready": True, "source": source})
    command = _receive()
    sess, mnist, x, t, train_step = ns["sess"], ns["mnist"], ns["x"], ns["t"], ns["train_step"]
    feed_extra = {ns["keep_prob"]: 0.5} if "keep_prob" in ns else {}
    parts: dict[str, list[float]] = {name: [] for name, _, _ in PROFILE_PARTS}
    shares: dict[str, list[float]] = {name: [] for name in [*parts, IDLE]}
    spans, walls = [], []
    options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
    for _ in range(command["steps"] if command else 10):
        batch_xs, batch_ts = mnist.train.next_batch(model.batch)
        metadata = tf.RunMetadata()
        start = time.perf_counter()
        sess.run(train_step, feed_dict={x: batch_xs, t: batch_ts, **feed_extra}, options=options,
                 run_metadata=metadata)
        walls.append(time.perf_counter() - start)
        intervals: dict[str, list[tuple[int, int]]] = {name: [] for name in parts}
        first, last = None, None
        for device in metadata.step_stats.dev_stats:
            for node in device.node_stats:
                begin, end = node.all_start_micros, node.all_start_micros + node.all_end_rel_micros
                if node.node_name in ("_SOURCE", "_SINK") or end <= begin:
                    continue
                first = begin if first is None else min(first, begin)
                last = end if last is None else max(last, end)
                part = next(name for name, pattern, _ in PROFILE_PARTS if re.search(pattern, node.node_name))
                intervals[part].append((begin, end))
        spans.append((last - first) / 1e6 if first is not None else 0.0)
        for name, share in _shares(intervals).items():
            shares[name].append(share / 1e6)
        for name, found in intervals.items():
            busy, reach = 0, None
            for begin, end in sorted(found):
                if reach is None or begin > reach:
                    busy += end - begin
                    reach = end
                elif end > reach:
                    busy += end - reach
                    reach = end
            parts[name].append(busy / 1e6)
    # Means, not medians: where the time goes is total time over steps, and means of the
    # shares add up to the mean span (medians taken part by part do not, on a busy machine).
    _send({"wall_s": statistics.fmean(walls), "span_s": statistics.fmean(spans), "steps": len(spans),
           "parts": [{"part": name, "seconds": statistics.fmean(parts[name]), "flops": flops,
                      "share_s": statistics.fmean(shares[name])} for name, _, flops in PROFILE_PARTS]
           + [{"part": IDLE, "seconds": 0.0, "flops": 0, "share_s": statistics.fmean(shares[IDLE])}]})


def _shares(intervals: dict[str, list[tuple[int, int]]]) -> dict[str, float]:
    """Split the step's time among the parts running at each moment (equal
    shares when several run side by side); time with no op running is IDLE."""
    edges = sorted({e for found in intervals.values() for interval in found for e in interval})
    result = dict.fromkeys([*intervals, IDLE], 0.0)
    for begin, end in zip(edges, edges[1:]):
        active = [name for name, found in intervals.items() if any(b < end and e > begin for b, e in found)]
        for name in active or [IDLE]:
            result[name] += (end - begin) / max(len(active), 1)
    return result


def _receive() -> dict | None:
    line = sys.stdin.readline()
    if not line:
        return None
    command = json.loads(line)
    return None if command.get("op") == "quit" else command


def worker(spec: dict, started: float) -> None:
    """Entry point of a measuring process (see ``Worker``)."""
    model = MODELS.get(spec.get("model", ""), MODELS["CNN"])
    imported = time.perf_counter() - started
    kind = spec["kind"]
    try:
        if kind == "graph":
            _worker_graph(spec, model)
        elif kind == "keras":
            _worker_keras(spec, model)
        elif kind == "matmul":
            _worker_matmul(spec)
        elif kind == "load":
            _worker_load(spec)
        elif kind == "eval":
            _worker_eval(spec, model)
        elif kind == "restore":
            _worker_restore(spec, model)
        elif kind == "recognizer":
            _worker_recognizer(spec, model)
        elif kind == "profile":
            _worker_profile(spec, model)
        else:
            raise ValueError(f"unknown worker kind {kind!r}")
    except Exception as error:
        import traceback

        traceback.print_exc()
        _send({"error": f"{type(error).__name__}: {str(error)[:300]}"})
        return
    _send({"done": True, "maxrss_kb": _maxrss_kb(), "import_s": imported})


# ---------------------------------------------------------------------------
# Controller side
# ---------------------------------------------------------------------------

WORKER_CODE = (
    "import time; _t0 = time.perf_counter()\n"
    "import sys, json, tfbook_utils\n"
    "from course_tools.bench import worker\n"
    "worker(json.loads(sys.argv[1]), _t0)\n"
)


class WorkerError(RuntimeError):
    pass


class Worker:
    """A measuring process: started with a spec, then driven one command at a
    time over stdin / stdout so that several of them can take turns."""

    def __init__(self, name: str, spec: dict, log_dir: Path, env: dict | None = None, cwd: Path | None = None):
        self.name = name
        log_dir.mkdir(parents=True, exist_ok=True)  # again: build/ may be cleaned while the bench runs
        self.log_path = log_dir / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".log")
        self.log = open(self.log_path, "wb")  # noqa: SIM115  (closed in finish)
        full_env = dict(os.environ)
        full_env.update({"TF_CPP_MIN_LOG_LEVEL": "2", "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"})
        # the worker imports course_tools.bench from the repository, whatever its cwd
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
        full_env.update(env or {})
        self.env = env or {}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER_CODE, json.dumps(spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
            cwd=str(cwd or REPO_ROOT), env=full_env,
        )
        self._buffer = b""
        self.ready: dict = {}
        self.results: list[dict] = []
        self.final: dict = {}

    def receive(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                text = line.decode(errors="replace")
                if text.startswith(PREFIX):
                    message = json.loads(text[len(PREFIX):])
                    if "error" in message:
                        raise WorkerError(f"{self.name}: {message['error']} (log: {self.log_path})")
                    return message
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise WorkerError(f"{self.name}: no answer in {timeout:.0f} s (log: {self.log_path})")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    self.proc.wait()
                    try:
                        tail = self.log_path.read_text(errors="replace").strip().splitlines()[-3:]
                    except OSError:
                        tail = ["(log file gone)"]
                    raise WorkerError(f"{self.name}: exited ({self.proc.returncode}): {' | '.join(tail)}")
                self._buffer += chunk

    def command(self, timeout: float = 600, **command) -> dict:
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        self.proc.stdin.flush()
        return self.receive(timeout)

    def finish(self, timeout: float = 120) -> dict:
        """Tell the worker to stop; its last message has its peak RSS."""
        try:
            self.proc.stdin.write(b'{"op": "quit"}\n')
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            while "done" not in (message := self.receive(timeout)):
                pass
            self.final = message
        finally:
            self.kill()
        return self.final

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def start_all(workers: list[Worker], timeout: float = 600) -> None:
    """Wait until every worker of a group has imported and set up."""
    for w in workers:
        w.ready = w.receive(timeout)


def take_turns(workers: list[Worker], rounds: int, steps: dict[str, int]) -> None:
    """A, B, C, A, B, C, ...: each round every worker runs its steps once."""
    for _ in range(rounds):
        for w in workers:
            w.results.append(w.command(steps=steps[w.name]))


def rates(w: Worker, steps: int, key: str = "seconds") -> list[float]:
    return [steps / r[key] for r in w.results]


def _mb(kb: int | None) -> float | None:
    return None if kb is None else kb / 1024.0


@dataclass
class Bench:
    quick: bool
    log_dir: Path
    checkpoint_dir: Path = CHECKPOINT_DIR
    results: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def spec(self, **kw) -> dict:
        kw.setdefault("warmup", QUICK_WARMUP_STEPS if self.quick else WARMUP_STEPS)
        return kw

    def round_steps(self, model: Model) -> int:
        return QUICK_ROUND_STEPS if self.quick else model.round_steps

    def group(self, workers: list[Worker], body) -> None:
        try:
            start_all(workers)
            body()
            for w in workers:
                w.finish()
        finally:
            for w in workers:
                w.kill()

    def training(self, model: Model) -> None:
        """Graph mode against Keras (and, for the CNN, the matmul), interleaved."""
        n = self.round_steps(model)
        graph = Worker(f"{model.tag} graph", self.spec(kind="graph", model=model.tag), self.log_dir)
        keras = Worker(f"{model.tag} keras", self.spec(kind="keras", model=model.tag), self.log_dir)
        group = [graph, keras]
        matmul = None
        mm_steps = 3 if self.quick else 40
        if model.tag == "CNN":
            matmul = Worker("matmul", self.spec(kind="matmul", n=MATMUL_N), self.log_dir)
            group.append(matmul)
        steps = {graph.name: n, keras.name: n, "matmul": mm_steps}
        self.group(group, lambda: take_turns(group, ROUNDS, steps))
        g, k = rates(graph, n), rates(keras, n)
        row = {
            "model": model.title, "tag": model.tag, "batch": model.batch, "optimizer": model.optimizer,
            "steps_per_round": n, "rounds": ROUNDS,
            "graph_steps_s": g, "keras_steps_s": k, "keras_whole_fit_steps_s": rates(keras, n, "seconds_whole_fit"),
            "graph": max(g), "keras": max(k),
            "graph_rss_mb": _mb(graph.final.get("maxrss_kb")), "keras_rss_mb": _mb(keras.final.get("maxrss_kb")),
            "source": graph.ready.get("source"), "keras_jit_compile": keras.ready.get("jit_compile"),
            "keras_run_eagerly": keras.ready.get("run_eagerly"), "keras_version": keras.ready.get("keras"),
        }
        row["ratio"] = row["graph"] / row["keras"]
        self.results.setdefault("training", []).append(row)
        if matmul is not None:
            flops = cnn_flops(model.batch)
            mm = [mm_steps * 2 * MATMUL_N**3 / r["seconds"] / 1e9 for r in matmul.results]
            cnn = [flops["total"] * s / 1e9 for s in g]
            self.results["cnn_efficiency"] = {
                "flops_per_step": flops, "cnn_gflops": max(cnn), "matmul_gflops": max(mm),
                "matmul_rounds": mm, "cnn_rounds": cnn, "matmul_rss_mb": _mb(matmul.final.get("maxrss_kb")),
                "ratio": max(cnn) / max(mm),
            }

    def settings(self) -> None:
        """The CNN in graph mode under different settings, taking turns."""
        n = QUICK_ROUND_STEPS if self.quick else SETTINGS_ROUND_STEPS
        rounds = ROUNDS if self.quick else SETTINGS_ROUNDS
        variants = SETTINGS_VARIANTS
        workers = [Worker(f"CNN graph {name}", self.spec(kind="graph", model="CNN", **extra), self.log_dir, env=env)
                   for name, env, extra in variants]
        self.group(workers, lambda: take_turns(workers, rounds, {w.name: n for w in workers}))
        base = rates(workers[0], n)
        rows = []
        for (name, env, _), w in zip(variants, workers):
            r = rates(w, n)
            rows.append({"setting": name, "env": env, "steps_s": max(r), "rounds": r, "vs_default": max(r) / max(base),
                         "rss_mb": _mb(w.final.get("maxrss_kb"))})
        self.results["settings"] = rows
        self.results["settings_steps"] = n

    def load(self) -> None:
        w = Worker("load", {"kind": "load", "next_batch_calls": 200 if self.quick else 2200}, self.log_dir)

        def body() -> None:
            w.results.append(w.command(op="load"))

        self.group([w], body)
        self.results["load"] = {**w.results[0], "rss_mb": _mb(w.final.get("maxrss_kb")),
                                "import_s": w.final.get("import_s")}

    def restore(self) -> None:
        rows = []
        for prefix, tag in (("mdc_session-4000", "MDC"), ("cnn_session-20000", "CNN")):
            if not (self.checkpoint_dir / f"{prefix}.index").is_file():
                rows.append({"checkpoint": prefix, "shipped": False})
                continue
            w = Worker(f"restore {prefix}", self.spec(kind="restore", model=tag, checkpoint=prefix), self.log_dir,
                       cwd=self.checkpoint_dir)

            def body(w: Worker = w) -> None:
                w.results.append(w.command(op="restore"))

            self.group([w], body)
            rows.append({"checkpoint": prefix, "shipped": True, "seconds": w.results[0]["seconds"],
                         "rss_mb": _mb(w.final.get("maxrss_kb"))})
        self.results["restore"] = rows

    def profile(self) -> None:
        w = Worker("CNN profile", self.spec(kind="profile", model="CNN"), self.log_dir)

        def body() -> None:
            w.results.append(w.command(steps=3 if self.quick else 30))

        self.group([w], body)
        self.results["profile"] = w.results[0]

    def recognizer(self) -> None:
        checkpoint = "cnn_session-20000" if (self.checkpoint_dir / "cnn_session-20000.index").is_file() else None
        w = Worker("recognizer", self.spec(kind="recognizer", model="CNN", checkpoint=checkpoint), self.log_dir,
                   cwd=self.checkpoint_dir if checkpoint else None)
        steps = 5 if self.quick else 50

        def body() -> None:
            if "missing" in w.ready:
                return
            w.results.append(w.command(steps=steps))

        self.group([w], body)
        if "missing" in w.ready:
            self.results["recognizer"] = {"missing": w.ready["missing"]}
        else:
            self.results["recognizer"] = {**w.results[0], "weights": w.ready.get("weights"),
                                          "rss_mb": _mb(w.final.get("maxrss_kb"))}

    def evaluation(self, models: list[Model]) -> None:
        rows = []
        for model in models:
            variants = [("as the notebook", model.eval_chunk), (f"chunks of {EVAL_ALT_CHUNK}", EVAL_ALT_CHUNK)]
            workers = [Worker(f"{model.tag} eval {label}", self.spec(kind="eval", model=model.tag, chunk=chunk),
                              self.log_dir) for label, chunk in variants]
            self.group(workers, lambda ws=workers: take_turns(ws, 1 if self.quick else ROUNDS, {w.name: 1 for w in ws}))
            for (label, chunk), w in zip(variants, workers):
                rows.append({"tag": model.tag, "how": label, "chunk": chunk,
                             "seconds": min(r["seconds"] for r in w.results),
                             "first_s": w.results[0]["first_s"], "rss_mb": _mb(w.final.get("maxrss_kb")),
                             "evals": model.steps // model.eval_every, "steps": model.steps})
        self.results["eval"] = rows

    def attempt(self, what: str, function, *args) -> None:
        print(f"measuring {what} ...", flush=True)
        start = time.perf_counter()
        try:
            function(*args)
        except Exception as error:  # one failed measurement must not lose the others
            message = str(error) if isinstance(error, WorkerError) else f"{type(error).__name__}: {error}"
            self.errors.append(f"{what}: {message}")
            print(f"  FAILED: {message}", flush=True)
        print(f"  {time.perf_counter() - start:.0f} s", flush=True)


# (name, environment variables, extra worker spec); the first is the reference
SETTINGS_VARIANTS: list[tuple[str, dict, dict]] = [
    ("default (what the notebooks get)", {}, {}),
    ("TF_NUM_INTEROP_THREADS=1", {"TF_NUM_INTEROP_THREADS": "1"}, {}),
    ("TF_NUM_INTRAOP_THREADS=1", {"TF_NUM_INTRAOP_THREADS": "1"}, {}),
    ("TF_ENABLE_ONEDNN_OPTS=0 (Eigen kernels)", {"TF_ENABLE_ONEDNN_OPTS": "0"}, {}),
    ("XLA auto-clustering (TF_XLA_FLAGS)", {"TF_XLA_FLAGS": "--tf_xla_auto_jit=2 --tf_xla_cpu_global_jit"}, {}),
    ("TF_ONEDNN_USE_SYSTEM_ALLOCATOR=1 (malloc instead of TF's allocator)", {"TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "1"},
     {}),
    ("tf.disable_resource_variables() (TF 1.x reference variables)", {}, {"legacy_variables": True}),
    ("experiment: MatMul gradient without transpose_b (patched TF, not a setting)", {},
     {"patch_matmul_gradient": True}),
    ("experiment: TF_SET_ONEDNN_FPMATH_MODE=BF16 (bfloat16 inside fp32 ops: changes the numbers)",
     {"TF_SET_ONEDNN_FPMATH_MODE": "BF16"}, {}),
]


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor() or "unknown"
    import tensorflow as tf

    info = {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": model, "cores": os.cpu_count(), "tensorflow": tf.__version__, "numpy": np.__version__,
        "python": platform.python_version(),
    }
    try:
        info["load_average"] = os.getloadavg()
    except OSError:
        pass
    return info


def _busy_warning(info: dict, results: dict) -> list[str]:
    """A warning when other work competed for the cores as the run began.

    Only the load average at the start counts: at the end it includes the
    bench's own workers, which keep both cores busy by design."""
    start = info.get("load_average", ())[:1]
    cores = info.get("cores") or 1
    if not start or start[0] <= 0.5 * cores:
        return []
    return [
        f"**The machine was busy** (1-minute load average {start[0]:.1f} on {cores} cores when the bench started): "
        "other processes competed for the cores, so absolute numbers are low and noisy. "
        "The interleaved ratios suffer less, but contention hurts some workloads (a 2-thread matmul, page "
        "faults) more than others: judge the targets on a run without this warning.",
        "",
    ]


def _f(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.1f} ms"


def render(results: dict) -> str:
    info = results["machine"]
    lines = [
        "# tfbook bench" + (" (QUICK: a few steps only, numbers are not meaningful)" if results["quick"] else ""),
        "",
        f"{info['date']}; {info['cpu']}, {info['cores']} cores; TensorFlow {info['tensorflow']}, "
        f"numpy {info['numpy']}, Python {info['python']}; load average at start "
        f"{', '.join(f'{x:.1f}' for x in info.get('load_average', ()))}, at end "
        f"{', '.join(f'{x:.1f}' for x in results.get('load_average_end', ()))}.",
        "",
        *_busy_warning(info, results),
        "Every measurement runs in its own process (peak RSS is that process's, TensorFlow's import included). "
        f"Throughputs are the best of {ROUNDS} rounds in which the processes compared take turns "
        "(graph, Keras, graph, Keras, ...): as `timeit` advises, slower rounds measure the other work on the "
        "machine, not the code (every round is listed).",
    ]
    training = results.get("training")
    if training:
        keras_info = training[0]
        lines += [
            "",
            "## Training throughput: the notebooks' graph mode vs tf.keras `model.fit`",
            "",
            "| model | batch | optimizer | steps per round | graph steps/s | keras steps/s | graph/keras "
            "| graph peak RSS MB | keras peak RSS MB |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in training:
            lines.append(
                f"| {r['model']} | {r['batch']} | {r['optimizer']} | {r['steps_per_round']} | {_f(r['graph'])} "
                f"| {_f(r['keras'])} | {r['ratio']:.2f} | {_f(r['graph_rss_mb'], 0)} | {_f(r['keras_rss_mb'], 0)} |"
            )
        lines += [""]
        for r in training:
            lines.append(
                f"- {r['tag']}: graph rounds {', '.join(_f(v) for v in r['graph_steps_s'])}; keras rounds "
                f"{', '.join(_f(v) for v in r['keras_steps_s'])} (whole `fit` call incl. its set-up: "
                f"{', '.join(_f(v) for v in r['keras_whole_fit_steps_s'])}); model code: {r['source']}."
            )
        lines += [
            "",
            "Graph mode: `sess.run(train_step, feed_dict={x: batch_xs, t: batch_ts[, keep_prob: 0.5]})` after "
            "`mnist.train.next_batch(batch)`, exactly the notebooks' loop without its reporting. Keras "
            f"{keras_info['keras_version']}: the same layers, initialisers, summed cross-entropy and Adam, "
            "`fit(images, labels, batch_size, steps_per_epoch=N, shuffle=True)` on the same arrays (N at most one "
            "epoch per call: numpy input runs out after one pass, so MSE's 2,000 steps are 4 calls of 500), "
            f"defaults (jit_compile={keras_info['keras_jit_compile']}: Keras 3 turns XLA off on CPU-only "
            f"machines; run_eagerly={keras_info['keras_run_eagerly']}: a tf.function), warmed up first; "
            "keras steps/s is the steady state inside `fit` (end of batch 1 to end of batch N); the whole calls, "
            "with `fit`'s set-up of its data pipeline (about a second per call here), are listed above.",
        ]
    eff = results.get("cnn_efficiency")
    if eff:
        fl = eff["flops_per_step"]
        lines += [
            "",
            "## Two-layer CNN: achieved GFLOP/s vs this machine's fp32 matmul",
            "",
            "| quantity | value |",
            "|---|---:|",
            f"| FLOPs per training step (batch 50) | {fl['total'] / 1e9:.3f} GFLOP "
            f"(forward {fl['forward'] / 1e9:.3f} + backward {fl['backward'] / 1e9:.3f}) |",
            f"| CNN training, graph mode | {eff['cnn_gflops']:.1f} GFLOP/s |",
            f"| fp32 matmul {MATMUL_N}x{MATMUL_N} (TF graph mode, same rounds) | {eff['matmul_gflops']:.1f} GFLOP/s |",
            f"| **CNN / matmul** | **{eff['ratio']:.2f}** |",
            "",
            "FLOPs: a multiply-add counts 2; conv1 (28x28x32 outputs of 5x5x1), conv2 (14x14x64 of 5x5x32), "
            "fc 3136x1024 and 1024x10 forward; backward = gradient w.r.t. the weights (same cost as forward) plus "
            "w.r.t. the input (same again, not for conv1 whose input is the image). Bias, ReLU, pooling, "
            "softmax, dropout and Adam are not counted (< 1 %). "
            f"Rounds: CNN {', '.join(_f(v) for v in eff['cnn_rounds'])}; matmul "
            f"{', '.join(_f(v) for v in eff['matmul_rounds'])} GFLOP/s.",
        ]
    prof = results.get("profile")
    if prof:
        lines += [
            "",
            "## Where the two-layer CNN's training step goes (traced steps, RunMetadata)",
            "",
            "| part of the step | share of the step ms | busy ms | GFLOP | GFLOP/s while busy |",
            "|---|---:|---:|---:|---:|",
        ]
        for r in prof["parts"]:
            rate = f"{r['flops'] / r['seconds'] / 1e9:.0f}" if r["flops"] and r["seconds"] else "-"
            gflop = f"{r['flops'] / 1e9:.2f}" if r["flops"] else "-"
            busy = f"{r['seconds'] * 1000:.1f}" if r["part"] != IDLE else "-"
            lines.append(f"| {r['part']} | {r['share_s'] * 1000:.1f} | {busy} | {gflop} | {rate} |")
        lines += [
            "",
            f"Means over {prof.get('steps', 'the')} traced steps: a step took {prof['span_s'] * 1000:.1f} ms from its "
            f"first op's start to its last op's end ({prof['wall_s'] * 1000:.1f} ms as `sess.run` saw it). "
            "TensorFlow runs "
            "independent ops side by side: 'busy' is the union of a part's op intervals (parts overlap, so these "
            "add up to more than the step), 'share' splits every moment equally among the parts running then "
            "(these add up to the step). An op's interval includes waiting for the thread pool. Tracing slows "
            "the step a little.",
        ]
    settings = results.get("settings")
    if settings:
        lines += [
            "",
            "## Two-layer CNN (graph mode) under TensorFlow settings (environment variables set before import)",
            "",
            "| setting | steps/s | vs default | peak RSS MB |",
            "|---|---:|---:|---:|",
        ]
        for r in settings:
            lines.append(f"| {r['setting']} | {_f(r['steps_s'])} | {r['vs_default']:.2f} | {_f(r['rss_mb'], 0)} |")
        lines += [
            "",
            f"{len(settings[0]['rounds'])} rounds of {results['settings_steps']} steps, the variants taking turns; "
            "steps/s is the best round, 'vs default' its ratio to the default's best round. Rounds: "
            + "; ".join(f"{r['setting'].split(' (')[0]}: {', '.join(_f(v) for v in r['rounds'])}" for r in settings)
            + ".",
        ]
    rows = []
    load = results.get("load")
    if load:
        rows += [
            f"| MNIST `read_data_sets`, first call in a fresh process | {load['first_s']:.2f} s | "
            f"{_f(load['rss_mb'], 0)} | after `import tfbook_utils` ({_f(load.get('import_s'), 1)} s, "
            f"RSS {_f(_mb(load['rss_import_kb']), 0)} MB) |",
            f"| MNIST `read_data_sets`, again (warm) | {load['second_s']:.2f} s | | same process, median of "
            "3 calls |",
            f"| `mnist.train.next_batch(50)` | {load['next_batch_s'] * 1e6:.0f} µs | | copies "
            f"{load['next_batch_bytes'] / 1024:.0f} KiB (the batch's rows only; shares memory with the "
            f"data set: {'yes' if load['next_batch_shares_memory'] else 'no'}); at most "
            f"{load['next_batch_extra_bytes'] / 2**20:.1f} MB allocated at once; mean of "
            f"{load['next_batch_calls']:,} calls |",
            f"| the same with TF 1.x's `next_batch` algorithm (before) | {load['tf1_next_batch_s'] * 1e6:.0f} µs | "
            f"| a shuffled copy of all 55,000 images at every epoch's start: at most "
            f"{load['tf1_next_batch_extra_bytes'] / 2**20:.1f} MB allocated at once; same calls |",
        ]
    for r in results.get("restore", []):
        if not r["shipped"]:
            rows.append(f"| restore {r['checkpoint']} | not shipped | | |")
        else:
            rows.append(f"| restore {r['checkpoint']} | {r['seconds']:.2f} s | {_f(r['rss_mb'], 0)} | "
                        "`checkpoints.restore` into a freshly built graph |")
    rec = results.get("recognizer")
    if rec is not None:
        if "missing" in rec:
            rows.append(f"| recognizer: drawing → probabilities | n/a | | {rec['missing']} |")
        else:
            rows += [
                f"| recognizer: drawing → probabilities (`preprocess` + `predict`) | "
                f"{_ms(rec['image_to_probabilities_s'])} | {_f(rec['rss_mb'], 0)} | median; preprocess "
                f"{_ms(rec['preprocess_s'])}, predict {_ms(rec['predict_s'])}; weights: {rec['weights']} |",
                f"| recognizer: strokes → 280x280 drawing (`canvas.render`) | {_ms(rec['render_s'])} | | median |",
                f"| recognizer: first call (render, preprocess, predict) | "
                f"{' + '.join(_ms(v) for v in rec['first'])} | | a fresh session's first run |",
            ]
    if rows:
        lines += ["", "## Loading, restoring, recognising", "", "| measurement | time | peak RSS MB | note |",
                  "|---|---:|---:|---|", *rows]
    evals = results.get("eval")
    if evals:
        rate = {r["tag"]: r["graph"] for r in results.get("training", [])}
        lines += [
            "",
            "## The notebooks' test-set evaluations (loss and accuracy on 10,000 images)",
            "",
            f"| model | evaluated | seconds per evaluation (best of {ROUNDS}) | evaluations per run "
            "| share of the run's time | peak RSS MB |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for r in evals:
            share = "-"
            if r["tag"] in rate:
                train = r["steps"] / rate[r["tag"]]
                share = f"{r['evals'] * r['seconds'] / (train + r['evals'] * r['seconds']):.0%}"
            how = r["how"] + (f" (chunks of {r['chunk']})" if r["how"] == "as the notebook" and r["chunk"] else
                              " (all at once)" if r["how"] == "as the notebook" else "")
            lines.append(f"| {r['tag']} | {how} | {r['seconds']:.2f} | {r['evals']} | {share} | "
                         f"{_f(r['rss_mb'], 0)} |")
        lines += ["", "Share: evaluations x seconds / (training steps / graph steps/s above + evaluations x seconds)."]
    targets = _targets(results)
    if targets:
        lines += ["", "## Targets", "", "| target | measured | holds |", "|---|---:|---|", *targets]
    if results.get("errors"):
        lines += ["", "## Failed measurements", "", *[f"- {e}" for e in results["errors"]]]
    return "\n".join(lines) + "\n"


def _targets(results: dict) -> list[str]:
    def row(target: str, measured: str, holds: bool) -> str:
        return f"| {target} | {measured} | {'yes' if holds else 'no'} |"

    rows = []
    cnn = next((r for r in results.get("training", []) if r["tag"] == "CNN"), None)
    if cnn:
        rows.append(row("CNN training ≥ 1.25x tf.keras", f"{cnn['ratio']:.2f}x", cnn["ratio"] >= 1.25))
    eff = results.get("cnn_efficiency")
    if eff:
        rows.append(row("CNN ≥ 75 % of the fp32 matmul rate", f"{eff['ratio']:.0%}", eff["ratio"] >= 0.75))
    load = results.get("load")
    if load:
        rows.append(row("MNIST loads < 1 s warm", f"{load['second_s']:.2f} s", load["second_s"] < 1))
    rec = results.get("recognizer")
    if rec and "missing" not in rec:
        total = rec["image_to_probabilities_s"]
        rows.append(row("recognizer answers < 50 ms", _ms(total), total < 0.05))
    return rows


def run(names: list[str], quick: bool, out_dir: Path, checkpoint_dir: Path = CHECKPOINT_DIR) -> dict:
    """Measure what ``names`` pick (all when empty) and write the report."""
    wanted = [n.upper() if n.upper() in MODELS else n.lower() for n in names]
    unknown = [n for n in wanted if n not in MODELS and n not in SECTIONS]
    if unknown:
        raise SystemExit(f"Unknown bench names {unknown}; known: {', '.join([*MODELS, *SECTIONS])}")
    everything = not wanted
    models = [m for tag, m in MODELS.items() if everything or tag in wanted]
    # each measuring process's stderr, for when one fails (never under benchmarks/)
    log_dir = REPO_ROOT / "build" / "bench" / "logs" if out_dir == BENCH_DIR else out_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    bench = Bench(quick=quick, log_dir=log_dir, checkpoint_dir=checkpoint_dir)
    bench.results["machine"] = machine()
    bench.results["quick"] = quick
    start = time.perf_counter()
    if everything or "load" in wanted:
        bench.attempt("MNIST load", bench.load)
    for model in models:
        bench.attempt(f"{model.tag} training (graph vs keras)", bench.training, model)
    if everything or "profile" in wanted:
        bench.attempt("CNN profile (traced steps)", bench.profile)
    if everything or "settings" in wanted:
        bench.attempt("CNN under TensorFlow settings", bench.settings)
    if everything or "eval" in wanted:
        bench.attempt("test-set evaluations", bench.evaluation, models if models else list(MODELS.values()))
    if everything or "restore" in wanted:
        bench.attempt("checkpoint restore", bench.restore)
    if everything or "recognizer" in wanted:
        bench.attempt("recognizer latency", bench.recognizer)
    bench.results["seconds"] = time.perf_counter() - start
    bench.results["errors"] = bench.errors
    try:
        bench.results["load_average_end"] = os.getloadavg()
    except OSError:
        pass
    report = render(bench.results)
    report += f"\nBench time: {bench.results['seconds']:.0f} s.\n"
    (out_dir / "latest.md").write_text(report, encoding="utf-8")
    (out_dir / "latest.json").write_text(json.dumps(bench.results, indent=1, default=str) + "\n", encoding="utf-8")
    return bench.results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tfbook.py bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="MSE MSL MDC CNN load restore recognizer eval settings")
    parser.add_argument("--quick", action="store_true", help="a few steps only (checks that the bench works)")
    parser.add_argument("--out", type=Path, help="folder for latest.md / latest.json")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    out = args.out or (QUICK_DIR if args.quick else BENCH_DIR)
    results = run(args.names, args.quick, out)
    print()
    print((out / "latest.md").read_text(encoding="utf-8"))
    print(f"Written to {out / 'latest.md'}")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
