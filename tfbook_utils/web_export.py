"""The lecture's CNN as a web page: draw a digit, TensorFlow.js reads it.

``export_web('cnn_session-20000', 'web_recognizer')`` turns a Saver
checkpoint of Chapter05's two-layer CNN (the student's own, or the shipped
one: ``checkpoints.find_checkpoint`` decides) into a folder that any browser
opens without Python, a server or the internet:

* ``index.html`` and ``recognizer.js`` -- a canvas to draw on, the 28x28
  image the network sees and the ten probabilities (``web/`` beside this file);
* ``model.js`` -- the network in TensorFlow.js's own layers format (the
  topology and weight manifest of a ``model.json``) with the float32
  weights as base64, all in one script.  A page opened from the file
  system may not ``fetch()`` its neighbours, so ``model.json`` and binary
  weight files would work on a web server only; a script works from both;
* ``tf.es2017.min.js`` -- TensorFlow.js as the course ships it, with its licences.

The weights are written here with numpy, in the format TensorFlow.js
documents, not by the official converter (pip ``tensorflowjs``): that pins an
older TensorFlow and cannot be installed beside the course's.  The page
predicts with TensorFlow.js's cpu backend, whose probabilities agree with
TensorFlow's to about 1e-6.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from .errors import CheckpointError

HERE = Path(__file__).parent
PAGE = HERE / "web"  # index.html, recognizer.js
TFJS = HERE / "tfjs"
# Chapter05's variables in the order the notebook creates them, as the layers that hold them
LAYERS = [("conv1/kernel", [5, 5, 1, 32]), ("conv1/bias", [32]), ("conv2/kernel", [5, 5, 32, 64]),
          ("conv2/bias", [64]), ("hidden2/kernel", [3136, 1024]), ("hidden2/bias", [1024]),
          ("p/kernel", [1024, 10]), ("p/bias", [10])]


def _layer(class_name: str, **config: object) -> dict:
    return {"class_name": class_name, "config": config}


def topology() -> dict:
    """The lecture's CNN as a Keras Sequential model, as ``model.json`` describes one (dropout
    left out: the page predicts with keep_prob 1.0)."""
    conv = {"kernel_size": [5, 5], "strides": [1, 1], "padding": "same", "data_format": "channels_last",
            "dilation_rate": [1, 1], "activation": "relu", "use_bias": True}
    pool = {"pool_size": [2, 2], "strides": [2, 2], "padding": "same", "data_format": "channels_last"}
    layers = [
        _layer("Reshape", name="x_image", target_shape=[28, 28, 1], batch_input_shape=[None, 784], dtype="float32"),
        _layer("Conv2D", name="conv1", filters=32, **conv),
        _layer("MaxPooling2D", name="pool1", **pool),
        _layer("Conv2D", name="conv2", filters=64, **conv),
        _layer("MaxPooling2D", name="pool2", **pool),
        _layer("Flatten", name="h_pool2_flat"),
        _layer("Dense", name="hidden2", units=1024, activation="relu", use_bias=True),
        _layer("Dense", name="p", units=10, activation="softmax", use_bias=True),
    ]
    return {"class_name": "Sequential", "config": {"name": "lecture_cnn", "layers": layers},
            "backend": "tensor_flow.js"}


def read_weights(checkpoint: str) -> tuple[Path, list[np.ndarray]]:
    """The checkpoint's path and its eight model variables (float32), checked against the lecture's CNN."""
    import tensorflow.compat.v1 as tf

    from .checkpoints import find_checkpoint, model_variables_in

    path = find_checkpoint(checkpoint)
    saved = model_variables_in(path)
    shapes = [shape for _, shape in saved]
    if shapes != [shape for _, shape in LAYERS]:
        raise CheckpointError(
            f"{path.name} is not a checkpoint of Chapter05's two-layer CNN (its variables have the shapes "
            f"{shapes}): export_web writes that network only, e.g. export_web('cnn_session-20000')."
        )
    try:
        reader = tf.train.load_checkpoint(str(path))
        return path, [np.asarray(reader.get_tensor(name), dtype="<f4") for name, _ in saved]
    except Exception as error:  # TensorFlow raises several types for a damaged file
        raise CheckpointError(f"{path.name} cannot be read ({type(error).__name__}): train again, "
                              "or restore the shipped files with `git checkout checkpoints`.") from None


def model_script(weights: list[np.ndarray], source: str) -> str:
    """``model.js``: the topology, the weight manifest and the weights (base64) as one object."""
    data = b"".join(w.tobytes() for w in weights)
    model = {
        "source": source,
        "modelTopology": topology(),
        "weightSpecs": [{"name": name, "shape": shape, "dtype": "float32"} for name, shape in LAYERS],
        "byteLength": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "weightData": base64.b64encode(data).decode("ascii"),
    }
    return ("// The network for index.html, written by tfbook_utils.web_export (TensorFlow.js layers format).\n"
            f"window.TFBOOK_MODEL = {json.dumps(model)};\n")


def export_web(checkpoint: str = "cnn_session-20000", folder: str | Path = "web_recognizer") -> Path:
    """Write the page for ``checkpoint`` into ``folder`` (made if needed; its
    page files are replaced) and return the folder."""
    path, weights = read_weights(checkpoint)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("index.html", "recognizer.js"):
        shutil.copy(PAGE / name, folder / name)
    for name in ("tf.es2017.min.js", "LICENSE-Apache-2.0.txt", "LICENSE-MIT.txt"):
        shutil.copy(TFJS / name, folder / name)
    (folder / "model.js").write_text(model_script(weights, path.name), encoding="utf-8")
    return folder
