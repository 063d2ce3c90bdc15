"""What the bench measures: the lecture's models, and how much work they are.

The models are the catalog's benchmarked notebooks (``Notebook.bench``).
Graph mode runs the notebook's own cells, read from the ``.ipynb`` file, so
the bench times what students run and cannot drift from the lecture; only
the training loop is rewritten, without its reporting.  Each model's
``tf.keras`` twin is picked by the architecture the catalog names.

The FLOP counts of the two-layer CNN and of the matmul it is compared with
are written here once: ``CNN_MACS`` feeds the per-step total, the profile's
parts and the report's explanation.
"""

from __future__ import annotations

from collections.abc import Callable

from ..catalog import COURSE, Notebook
from ..checks import TAG

# The benchmarked notebooks in teaching order, by tag (also the bench's names for them).
MODELS: dict[str, Notebook] = {n.tag: n for n in COURSE if n.bench}

TWO_LAYER_CNN = "two-layer CNN"  # the architecture whose FLOPs are counted (below)
MNIST_TRAIN_IMAGES = 55_000  # numpy input to keras' fit runs out after one pass over these


def title(model: Notebook) -> str:
    """The model's name in the report's tables: ``softmax (MSE)``."""
    return f"{model.bench.label} ({model.tag})"


def by_architecture(architecture: str) -> Notebook:
    """The benchmarked notebook whose model has these layers; the CNN
    sections (profile, settings, recognizer, GFLOP/s) look theirs up here."""
    for model in MODELS.values():
        if model.bench.architecture == architecture:
            return model
    raise KeyError(f"no benchmarked notebook in the catalog has the architecture {architecture!r}")


def two_layer_cnn() -> Notebook:
    """The lecture's final model: the one the profile, settings and recognizer sections run."""
    return by_architecture(TWO_LAYER_CNN)


# ---------------------------------------------------------------------------
# The notebooks' own code
# ---------------------------------------------------------------------------


def set_up_tags(model: Notebook) -> str:
    """``[CNN-01..07]``: the cells that build the model, before the training loop."""
    return f"[{model.tag}-01..{model.bench.loop_cell - 1:02d}]"


def loop_source(model: Notebook) -> str:
    """The body of the notebook's training loop, without its reporting."""
    return (
        "for _ in range(steps):\n"
        f"    batch_xs, batch_ts = mnist.train.next_batch({model.bench.batch})\n"
        f"    sess.run(train_step, feed_dict={{x: batch_xs, t: batch_ts{model.bench.feed_extra}}})\n"
    )


def eval_source(model: Notebook, chunk: int | None) -> str:
    """One evaluation of the whole test set: at once, or in chunks (summed
    losses, mean accuracy) as the two-layer CNN's notebook does."""
    if chunk is None:
        return (
            "loss_val, acc_val = sess.run([loss, accuracy],\n"
            f"    feed_dict={{x: mnist.test.images, t: mnist.test.labels{model.bench.eval_feed}}})\n"
        )
    return (
        "loss_val, acc_val = 0.0, 0.0\n"
        f"for c in range(0, 10000, {chunk}):\n"
        f"    l, a = sess.run([loss, accuracy], feed_dict={{x: mnist.test.images[c:c + {chunk}],\n"
        f"        t: mnist.test.labels[c:c + {chunk}]{model.bench.eval_feed}}})\n"
        "    loss_val += l\n"
        f"    acc_val += a / {10000 // chunk}\n"
    )


def _strip_magics(source: str) -> str:
    """Without IPython's ``%`` and ``!`` lines: the cells run in plain Python."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def notebook_cells(model: Notebook) -> tuple[list[str], str] | None:
    """The set-up cells ``[TAG-01]`` .. the one before the training loop,
    read from the model's notebook, and where they came from (for the
    report); None if the notebook lacks one of them."""
    import nbformat

    cells = nbformat.read(model.path, as_version=4).cells
    found: dict[int, str] = {}
    for index, cell in enumerate(cells[:-1]):
        if cell.cell_type != "markdown":
            continue
        for prefix, number in TAG.findall(cell.source):
            if prefix == model.tag and cells[index + 1].cell_type == "code":
                found[int(number)] = cells[index + 1].source
    wanted = range(1, model.bench.loop_cell)
    if not all(n in found for n in wanted):
        return None
    return [_strip_magics(found[n]) for n in wanted], f"{model.relative_path} {set_up_tags(model)}"


def build_graph(model: Notebook) -> tuple[dict, str]:
    """Run the notebook's set-up cells: the namespace they leave (``sess``,
    ``train_step``, ``x``, ``t``, ...) and where the cells came from."""
    picked = notebook_cells(model)
    if picked is None:
        raise RuntimeError(f"{model.relative_path} lacks one of the cells {set_up_tags(model)}")
    cells, source = picked
    namespace: dict = {"__name__": "__bench__"}
    for cell in cells:
        exec(compile(cell, f"<{model.tag} cell>", "exec"), namespace)
    missing = [n for n in ("sess", "train_step", "x", "t", "mnist", "loss", "accuracy") if n not in namespace]
    if missing:
        raise RuntimeError(f"the {model.tag} cells define no {', '.join(missing)}")
    return namespace, source


# ---------------------------------------------------------------------------
# The same models in tf.keras
# ---------------------------------------------------------------------------

# The notebooks' layers and initialisers in Keras: zeros for the softmax
# weights, truncated normals (stddev 1.0 for dense layers, 0.1 for filters),
# biases 0.1 where the two-layer CNN's notebook sets them.


def _softmax(keras) -> list:
    return [keras.layers.Dense(10, activation="softmax", kernel_initializer="zeros")]


def _hidden_layer(keras) -> list:
    tn = keras.initializers.TruncatedNormal
    return [keras.layers.Dense(1024, activation="relu", kernel_initializer=tn(stddev=1.0)), *_softmax(keras)]


def _one_layer_cnn(keras) -> list:
    L, tn = keras.layers, keras.initializers.TruncatedNormal  # noqa: N806
    return [L.Reshape((28, 28, 1)),
            L.Conv2D(16, 5, padding="same", use_bias=False, kernel_initializer=tn(stddev=0.1)),
            L.MaxPooling2D(2, padding="same"), L.Flatten(),
            *_hidden_layer(keras)]


def _two_layer_cnn(keras) -> list:
    L, tn = keras.layers, keras.initializers.TruncatedNormal  # noqa: N806
    c01 = keras.initializers.Constant(0.1)
    return [L.Reshape((28, 28, 1)),
            L.Conv2D(32, 5, padding="same", activation="relu", kernel_initializer=tn(stddev=0.1),
                     bias_initializer=c01),
            L.MaxPooling2D(2, padding="same"),
            L.Conv2D(64, 5, padding="same", activation="relu", kernel_initializer=tn(stddev=0.1),
                     bias_initializer=c01),
            L.MaxPooling2D(2, padding="same"), L.Flatten(),
            L.Dense(1024, activation="relu", kernel_initializer=tn(stddev=1.0), bias_initializer=c01),
            L.Dropout(0.5),
            *_softmax(keras)]


# The catalog's ``Benchmarked.architecture`` names one of these.
KERAS_TWINS: dict[str, Callable[..., list]] = {
    "softmax": _softmax,
    "hidden layer": _hidden_layer,
    "one-layer CNN": _one_layer_cnn,
    TWO_LAYER_CNN: _two_layer_cnn,
}


def keras_model(model: Notebook):
    """The model's tf.keras twin, compiled like the notebook's training."""
    import keras

    layers = KERAS_TWINS[model.bench.architecture](keras)
    keras.utils.set_random_seed(model.bench.seed)  # after making the layers, before their weights, as always
    net = keras.Sequential([keras.Input((784,)), *layers])
    # the lecture's loss is the *sum* of the cross-entropy over the batch; TF 1's Adam had epsilon 1e-8
    net.compile(optimizer=keras.optimizers.Adam(model.bench.learning_rate, epsilon=1e-8),
                loss=keras.losses.CategoricalCrossentropy(reduction="sum"))
    return net


def fit_calls(steps: int, batch: int) -> list[int]:
    """``steps`` training steps as keras ``fit`` calls of at most one epoch
    (numpy input runs out after one pass over the training images): 2,000
    steps of 100 are 4 calls of 500."""
    calls = -(-steps // (MNIST_TRAIN_IMAGES // batch))
    return [steps // calls + (1 if k < steps % calls else 0) for k in range(calls)]


# ---------------------------------------------------------------------------
# FLOPs: the two-layer CNN's training step and the matmul it is compared with
# ---------------------------------------------------------------------------

# Multiply-adds per image of the two-layer CNN's layers, as its notebook builds them.
CNN_MACS = {
    "conv1": 28 * 28 * 32 * 5 * 5 * 1,  # 28x28x32 outputs of 5x5x1
    "conv2": 14 * 14 * 64 * 5 * 5 * 32,  # 14x14x64 outputs of 5x5x32
    "fc1": 3136 * 1024,
    "fc2": 1024 * 10,
}
CNN_FLOP_RULES = (
    "FLOPs: a multiply-add counts 2; conv1 (28x28x32 outputs of 5x5x1), conv2 (14x14x64 of 5x5x32), "
    "fc 3136x1024 and 1024x10 forward; backward = gradient w.r.t. the weights (same cost as forward) plus "
    "w.r.t. the input (same again, not for conv1 whose input is the image). Bias, ReLU, pooling, "
    "softmax, dropout and Adam are not counted (< 1 %)."
)


def layer_flops(layer: str, products: int, batch: int) -> int:
    """FLOPs of ``products`` forward-sized products of one layer (forward,
    weight gradient, input gradient: each the same multiply-adds)."""
    return 2 * products * CNN_MACS[layer] * batch


def cnn_flops(batch: int) -> dict:
    """Floating-point operations of one training step of the two-layer CNN,
    counted as ``CNN_FLOP_RULES`` says: forward is one product per layer,
    backward two (weights and input) except for conv1, whose input is the
    image (TensorFlow does not compute its gradient)."""
    forward = sum(layer_flops(layer, 1, batch) for layer in CNN_MACS)
    backward = sum(layer_flops(layer, 1 if layer == "conv1" else 2, batch) for layer in CNN_MACS)
    return {"forward": forward, "backward": backward, "total": forward + backward}


def training_flops(model: Notebook) -> dict | None:
    """FLOPs per training step where they are counted (the two-layer CNN), else None."""
    return cnn_flops(model.bench.batch) if model.bench.architecture == TWO_LAYER_CNN else None


MATMUL_N = 2048  # the yardstick: an n x n fp32 matmul, large enough to run near the CPU's peak


def matmul_flops(n: int = MATMUL_N) -> int:
    """An n x n by n x n product: n**3 multiply-adds."""
    return 2 * n**3


# Where the two-layer CNN's step goes: op-name patterns of the graph its
# notebook builds (TensorFlow names ops after their type), the layer and
# number of products each part computes (for its FLOPs), in order; the last
# pattern takes every op left.
PROFILE_PARTS: list[tuple[str, str, str | None, int]] = [
    ("conv1 forward + filter gradient", r"^(Relu|Conv2D|gradients/Conv2D_grad/.*)$", "conv1", 2),
    ("conv2 forward (fused conv + bias + relu)", r"^(Relu_1|Conv2D_1)$", "conv2", 1),
    ("conv2 backward (input + filter gradients)", r"^gradients/Conv2D_1_grad/", "conv2", 2),
    ("fc1 forward (fused matmul + bias + relu)", r"^(Relu_2|MatMul)$", "fc1", 1),
    ("fc1 input gradient: matmul(dy, w2, transpose_b=True)", r"^gradients/MatMul_grad/MatMul$", "fc1", 1),
    ("fc1 weight gradient: matmul(h, dy, transpose_a=True)", r"^gradients/MatMul_grad/MatMul_1$", "fc1", 1),
    ("Adam updates (3.3 M parameters, memory-bound)", r"^Adam/", None, 0),
    ("pooling, ReLU / bias gradients, softmax, dropout, loss", r"", None, 0),
]
IDLE = "no op running (executor, feeding the batch, between ops)"


def part_flops(batch: int) -> dict[str, int]:
    """FLOPs of each profiled part of one training step."""
    return {name: layer_flops(layer, products, batch) if layer else 0 for name, _, layer, products in PROFILE_PARTS}
