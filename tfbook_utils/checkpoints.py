"""Which checkpoint to restore, and a clear message when it does not fit.

The lecture saves ``saver.save(sess, 'mdc_session', global_step=i)`` into
the notebook's folder and later restores ``'mdc_session-4000'``.  Here:

* a student's own checkpoint (in the current folder) is used when it exists;
  otherwise the pretrained one shipped in ``checkpoints/`` (listed with its
  checksum and test accuracy in ``checkpoints/MANIFEST.json``);
* the lecture's variables have no names (``Variable``, ``Variable_1``, ...)
  and running a model cell twice adds a second copy with new names.  So the
  newest variables of the graph are paired, in creation order, with the
  newest variables of the file, whatever they are called;
* a file that does not fit the graph (a changed ``num_filters``, say), a
  missing file or a damaged one stops with one sentence saying what to do.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import tensorflow.compat.v1 as tf

from .errors import CheckpointError
from .paths import CHECKPOINT_DIR, display_path

MANIFEST = CHECKPOINT_DIR / "MANIFEST.json"


def _exists(prefix: Path) -> bool:
    return Path(str(prefix) + ".index").is_file()


def find_checkpoint(name: str) -> Path:
    """The student's own ``name`` in the current folder if there is one,
    else the shipped one.  ``name`` is a prefix such as ``cnn_session-20000``."""
    for candidate in (Path.cwd() / name, CHECKPOINT_DIR / name):
        if _exists(candidate):
            return candidate
    raise CheckpointError(
        f"No checkpoint '{name}' in this notebook's folder nor in the shipped "
        f"{display_path(CHECKPOINT_DIR)}/. Run the training notebook to make your own, "
        "or restore the shipped files with `git checkout checkpoints`."
    )


def _creation_order(name: str) -> tuple[str, int]:
    """'Variable_12' -> ('Variable', 12); 'Variable' -> ('Variable', 0)."""
    match = re.fullmatch(r"(.*?)(?:_(\d+))?", name)
    assert match is not None
    return match.group(1), int(match.group(2) or 0)


def _checkpoint_variables(path: Path) -> list[tuple[str, list[int]]]:
    try:
        listed = tf.train.list_variables(str(path))
    except Exception as error:  # TensorFlow raises several types for bad files
        raise CheckpointError(
            f"The checkpoint {display_path(path)} cannot be read ({type(error).__name__}). "
            "It is damaged or incomplete: delete it and train again, or restore "
            "the shipped files with `git checkout checkpoints`."
        ) from None
    variables = [(n, s) for n, s in listed if not n.startswith(("beta1_power", "beta2_power"))]
    variables = [(n, s) for n, s in variables if "/" not in n or n.rsplit("/", 1)[-1] not in ("Adam", "Adam_1")]
    return sorted(variables, key=lambda item: _creation_order(item[0]))


def _model_variables() -> list[tf.Variable]:
    """What a trained model consists of, in creation order: its trainable
    variables plus batch normalisation's moving averages (Chapter06), which
    are not trained by the optimizer but are needed to predict."""
    wanted = {v.op.name for v in tf.trainable_variables() + tf.moving_average_variables()}
    return [v for v in tf.global_variables() if v.op.name in wanted]


def restore(sess: tf.Session, name: str, verbose: bool = True) -> Path:
    """Restore checkpoint ``name`` into the newest model of the session's graph.

    The graph's model variables (newest last) are paired with the
    file's variables (in creation order); both lists are aligned at their
    ends, so a model cell that ran twice restores into the copy in use.
    """
    path = find_checkpoint(name)
    saved = _checkpoint_variables(path)
    with sess.graph.as_default():
        model = _model_variables()
    count = min(len(saved), len(model))
    if count == 0:
        raise CheckpointError("The graph has no variables yet: run the model cells before restoring.")
    pairs = list(zip(saved[-count:], model[-count:]))
    for (saved_name, saved_shape), variable in pairs:
        shape = variable.shape.as_list()
        if shape != saved_shape:
            raise CheckpointError(
                f"{display_path(path)} does not fit your graph: its variable '{saved_name}' has shape "
                f"{saved_shape}, but your graph's '{variable.op.name}' has shape {shape}. "
                "Did you change a hyperparameter such as num_filters? Put it back, or train "
                "again with the changed value to make a checkpoint that fits."
            )
    with sess.graph.as_default():
        saver = tf.train.Saver({saved_name: variable for (saved_name, _), variable in pairs})
        try:
            saver.restore(sess, str(path))
        except Exception as error:
            raise CheckpointError(
                f"The checkpoint {display_path(path)} cannot be read ({type(error).__name__}). "
                "Delete it and train again, or restore the shipped files with `git checkout checkpoints`."
            ) from None
    if verbose:
        print(f"Restored {_whose(path)}: {display_path(path)}")
    return path


def load_model(name: str, verbose: bool = True) -> tuple[tf.Session, tf.Tensor, tf.Tensor, tf.Tensor]:
    """A trained network without its notebook's code: the graph saved beside
    checkpoint ``name`` (its ``.meta`` file) imported into a graph of its own,
    with the parameters restored.  Returns ``(sess, p, x, keep_prob)``; the
    network must name those tensors 'p', 'x' and 'keep_prob' (Chapter06 does)."""
    path = find_checkpoint(name)
    meta = Path(str(path) + ".meta")
    if not meta.is_file():
        raise CheckpointError(
            f"{display_path(path)} has no graph file ({meta.name}) to rebuild the network from. "
            "Run the notebook that trains it to save one, or restore the shipped files with `git checkout checkpoints`."
        )
    graph = tf.Graph()
    with graph.as_default():
        try:
            saver = tf.train.import_meta_graph(str(meta))
            sess = tf.Session(graph=graph)
            saver.restore(sess, str(path))
            p, x, keep_prob = (graph.get_tensor_by_name(f"{n}:0") for n in ("p", "x", "keep_prob"))
        except Exception as error:  # TensorFlow raises several types for bad or unfitting files
            raise CheckpointError(
                f"The network cannot be rebuilt from {display_path(meta)} ({type(error).__name__}). "
                "Run the notebook that trains it again, or restore the shipped files with `git checkout checkpoints`."
            ) from None
    if verbose:
        print(f"Loaded the network and {_whose(path)}: {display_path(path)}")
    return sess, p, x, keep_prob


def _whose(path: Path) -> str:
    """Students train next to their notebook; anything else came with the course."""
    return "your own checkpoint" if path.parent == Path.cwd() else "the shipped checkpoint"


def manifest() -> list[dict]:
    """The shipped checkpoints: file, sha256, notebook, steps, test accuracy, TF version."""
    return json.loads(MANIFEST.read_text(encoding="utf-8"))["checkpoints"]
