"""Which checkpoint to restore, and a clear message when it does not fit.

The lecture saves ``saver.save(sess, 'mdc_session', global_step=i)`` into
the notebook's folder and later restores ``'mdc_session-4000'``.  Here:

* a student's own checkpoint (in the current folder) is used when it exists,
  also one in TF 1.x's older V1 format (a single file); otherwise the
  pretrained one shipped in ``checkpoints/`` (listed with its checksum and
  test accuracy in ``checkpoints/MANIFEST.json``);
* the lecture's variables have no names (``Variable``, ``Variable_1``, ...)
  and running a model cell twice adds a second copy with new names.  So the
  newest variables of the graph are paired, in creation order, with the
  newest variables of the file, whatever they are called;
* a file that does not fit the graph (a changed ``num_filters``, say), a
  missing file or a damaged one stops with one sentence saying what to do;
* so does a restore that would fill only part of the model: a graph whose
  variables are not all restored stays as it was, instead of predicting
  with some parameters still random.  The only variables left out are
  earlier copies of the model (its cells ran more than once) and, in the
  file, the optimizer's own variables (``tf.train.Saver()`` saves Adam's
  slots and beta powers; the lean ``Saver(tf.trainable_variables())`` not);
* ``load_model`` rebuilds a network from its saved graph file (``.meta``):
  a file in the notebook's folder is used only with its checkpoint beside
  it, and the line it prints says whose graph file it loaded.
"""

from __future__ import annotations

import glob
import json
import os
import re
from pathlib import Path

import tensorflow.compat.v1 as tf

from .errors import CheckpointError
from .paths import CHECKPOINT_DIR, display_path

MANIFEST = CHECKPOINT_DIR / "MANIFEST.json"


SUFFIX = re.compile(r"\.(index|meta|data-\d{5}-of-\d{5})$")  # the files that make a checkpoint


def _exists(prefix: Path) -> bool:
    return Path(str(prefix) + ".index").is_file()


def _is_v1(prefix: Path) -> bool:
    """TF 1.x's older checkpoint format (V1, the default before TF 1.0) is one
    file named like the prefix itself, with no .index beside it.  TensorFlow
    still reads it, so a student's old checkpoint restores as it is."""
    return prefix.is_file() and not _exists(prefix)


def _checkpoint_name(name: object) -> str:
    """``name`` as a checkpoint prefix, or one line about what to pass.  A
    file name (``cnn_session-20000.index``) is taken as its checkpoint."""
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str):
        raise CheckpointError(
            f"A checkpoint's name is text such as 'cnn_session-20000' (what saver.save wrote, with the step), "
            f"not {type(name).__name__} {name!r:.40}: e.g. restore(sess, 'cnn_session-20000')."
        )
    if not name.strip():
        raise CheckpointError("The checkpoint's name is empty: pass one such as 'cnn_session-20000'.")
    return SUFFIX.sub("", name.strip())


def find_checkpoint(name: str) -> Path:
    """The student's own ``name`` in the current folder if there is one,
    else the shipped one.  ``name`` is a prefix such as ``cnn_session-20000``."""
    name = _checkpoint_name(name)
    own = Path.cwd() / name
    if _exists(own) and not list(own.parent.glob(glob.escape(own.name) + ".data-*")):
        raise CheckpointError(
            f"Your checkpoint {name} in this folder is incomplete: it has {name}.index but no {name}.data-* file. "
            f"Delete its files ({name}.*) to use the shipped one, or train again."
        )
    for candidate in (own, CHECKPOINT_DIR / name):
        if _exists(candidate) or (candidate == own and _is_v1(own)):
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


def model_variables_in(path: Path) -> list[tuple[str, list[int]]]:
    """(name, shape) of the model's variables saved in checkpoint ``path``, in
    creation order: everything but the optimizer's own variables."""
    try:
        listed = tf.train.list_variables(str(path))
    except Exception as error:  # TensorFlow raises several types for bad files
        if _is_v1(path):
            raise CheckpointError(
                f"{path.name} in this folder has no {path.name}.index, so it would be a TF 1.x checkpoint in the "
                f"older V1 format, but TensorFlow cannot read it ({type(error).__name__}): it is damaged or another "
                f"kind of file. Rename it to use the shipped checkpoint, or train again to save a new one."
            ) from None
        raise CheckpointError(
            f"The checkpoint {display_path(path)} cannot be read ({type(error).__name__}). "
            "It is damaged or incomplete: delete it and train again, or restore "
            "the shipped files with `git checkout checkpoints`."
        ) from None
    names = {n for n, _ in listed}

    def optimizer_variable(name: str) -> bool:
        """What tf.train.Saver() saves besides the model: the optimizer's slots, named
        '<variable>/<slot>' ('Variable_3/Adam', 'Variable_3/Momentum'), and Adam's beta powers."""
        slot = "/" in name and name.rsplit("/", 1)[0] in names
        return slot or re.fullmatch(r"beta[12]_power(_\d+)?", name) is not None

    variables = [(n, s) for n, s in listed if not optimizer_variable(n)]
    return sorted(variables, key=lambda item: _creation_order(item[0]))


def _model_variables() -> list[tf.Variable]:
    """What a trained model consists of, in creation order: its trainable
    variables plus batch normalisation's moving averages (Chapter06), which
    are not trained by the optimizer but are needed to predict."""
    wanted = {v.op.name for v in tf.trainable_variables() + tf.moving_average_variables()}
    return [v for v in tf.global_variables() if v.op.name in wanted]


def _session(sess: object) -> tf.Session:
    """``sess`` if it is an open session, else one line about what to pass."""
    if not isinstance(sess, (tf.Session, tf.InteractiveSession)):
        raise CheckpointError(
            f"restore(sess, name) takes the session first, then the checkpoint's name, e.g. "
            f"restore(sess, 'cnn_session-20000'); its first argument here is {type(sess).__name__}, not a tf.Session."
        )
    if sess.graph.version == 0:  # not one operation in it: sess.run would call it "empty"
        if tf.executing_eagerly():
            raise CheckpointError(
                "TensorFlow runs eagerly here (tf.disable_eager_execution() did not run first), so this session's "
                "graph is empty and your model is not in it. Restart the kernel and run the notebook from its first "
                "cell, which switches eager execution off, then restore."
            )
        raise CheckpointError(
            "This session's graph is empty, so your model's variables are not in it: the session was made before "
            "tf.reset_default_graph() ran, or for another graph. Make it after the model cells, with "
            "sess = tf.Session() and sess.run(tf.global_variables_initializer()), then restore."
        )
    try:
        sess.run([])  # does nothing, but fails on a closed session
    except RuntimeError:
        raise CheckpointError(
            "This session is closed (sess.close() ran): make a new one with sess = tf.Session() "
            "and sess.run(tf.global_variables_initializer()), then restore."
        ) from None
    return sess


def _names(variables: list) -> str:
    """'Variable, Variable_1, ..., Variable_7 (8 variables)', short enough for one line."""
    names = [v if isinstance(v, str) else v.op.name for v in variables]
    shown = ", ".join(names) if len(names) <= 4 else f"{', '.join(names[:2])}, ..., {names[-1]}"
    return f"{shown} ({len(names)} variable{'s' if len(names) > 1 else ''})"


def _whole_copies(extra: list[list[int]], model: list[list[int]]) -> bool:
    """Whether the shapes ``extra`` are the shapes ``model`` repeated: an
    earlier run of the same model cells."""
    return len(extra) % len(model) == 0 and extra == model * (len(extra) // len(model))


def _contains(shapes: list[list[int]], part: list[list[int]]) -> bool:
    """Whether every shape of ``part`` is among ``shapes``, as often as it occurs there."""
    left = list(shapes)
    for shape in part:
        if shape not in left:
            return False
        left.remove(shape)
    return True


def _shapes(shapes: list[list[int]]) -> str:
    """'[5, 5, 1, 32], [32], ..., [10]', short enough for one line."""
    shown = [str(s) for s in shapes]
    return ", ".join(shown) if len(shown) <= 4 else f"{', '.join(shown[:2])}, ..., {shown[-1]}"


def _what_fits(model_shapes: list[list[int]]) -> str:
    """What to restore instead: the shipped checkpoint whose variables fit the graph, if one does."""
    for index in sorted(CHECKPOINT_DIR.glob("*.index")):
        prefix = index.with_suffix("")
        try:
            shapes = [shape for _, shape in model_variables_in(prefix)]
        except CheckpointError:  # a damaged shipped file fits nothing
            continue
        if shapes and shapes == model_shapes[-len(shapes):]:
            return f"Pass your network's checkpoint instead: the shipped one that fits your graph is '{prefix.name}'."
    return "Pass the name of the checkpoint your network saved, or build the network this one was saved from."


def _pair(saved: list[tuple[str, list[int]]], model: list[tf.Variable], path: Path) -> list[tuple[str, tf.Variable]]:
    """The file's variables paired with the graph's, aligned at the newest
    end, or one line saying why that would not restore the whole model."""
    count = min(len(saved), len(model))
    if count == 0:
        raise CheckpointError("The graph has no variables yet: run the model cells before restoring.")
    pairs = list(zip(saved[-count:], model[-count:]))
    for (saved_name, saved_shape), variable in pairs:
        shape = variable.shape.as_list()
        if shape == saved_shape:
            continue
        saved_shapes, model_shapes = [s for _, s in saved], [v.shape.as_list() for v in model]
        whole_copies = not (len(model) % len(saved) and len(saved) % len(model))
        if not whole_copies and _contains(model_shapes, saved_shapes):  # the model, and parts of it again
            raise CheckpointError(
                f"{display_path(path)} holds {len(saved)} variables, your graph {len(model)}, and they do not line "
                "up: some model cells ran more often than others. Run the notebook from its first cell "
                "(Kernel → Restart Kernel and Run All Cells), then restore."
            )
        if not whole_copies or len(saved_shape) != len(shape):  # other layers, not other sizes
            raise CheckpointError(
                f"{display_path(path)} is a checkpoint of a different network: {len(saved)} variables of shapes "
                f"{_shapes(saved_shapes)}, your graph {len(model)} of shapes {_shapes(model_shapes)}. "
                f"{_what_fits(model_shapes)}"
            )
        raise CheckpointError(
            f"{display_path(path)} does not fit your graph: its variable '{saved_name}' has shape "
            f"{saved_shape}, but your graph's '{variable.op.name}' has shape {shape}. "
            "Did you change a hyperparameter such as num_filters? Put it back, or train "
            "again with the changed value to make a checkpoint that fits."
        )
    shapes = [shape for _, shape in saved[-count:]]
    unused = saved[:-count]
    if not _whole_copies([shape for _, shape in unused], shapes):
        raise CheckpointError(
            f"{display_path(path)} holds {len(saved)} variables, but your graph has only {len(model)}, so its "
            f"{_names([n for n, _ in unused])} would not be restored and the model would be incomplete. "
            "Run every cell that builds the network before this one, then restore."
        )
    left = model[:-count]
    if not _whole_copies([v.shape.as_list() for v in left], shapes):
        raise CheckpointError(
            f"Your graph has {len(model)} variables and {display_path(path)} fills the newest {count}: "
            f"{_names(left)} would not be restored. Run the notebook from its first cell "
            "(Kernel → Restart Kernel and Run All Cells: it starts a new graph), then restore."
        )
    return [(saved_name, variable) for (saved_name, _), variable in pairs]


def restore(sess: tf.Session, name: str, verbose: bool = True) -> Path:
    """Restore checkpoint ``name`` into the newest model of the session's graph.

    The graph's model variables (newest last) are paired with the
    file's variables (in creation order); both lists are aligned at their
    ends, so a model cell that ran twice restores into the copy in use.
    Nothing is restored unless every variable of that model is.
    """
    sess = _session(sess)
    path = find_checkpoint(name)
    saved = model_variables_in(path)
    with sess.graph.as_default():
        pairs = _pair(saved, _model_variables(), path)
        saver = tf.train.Saver(dict(pairs))
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
    network must name those tensors 'p', 'x' and 'keep_prob' (Chapter06 does).

    A graph file can define any TensorFlow operation, so only one that sits
    with its checkpoint is imported (a lone ``.meta`` in the notebook's
    folder is not), and the printed line says whose it is."""
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
        own = path.parent == Path.cwd()
        line = f"Loaded the network from {'your own' if own else 'the shipped'} graph file {display_path(meta)} "
        line += f"and {_whose(path)}: {display_path(path)}"
        if not own and (Path.cwd() / meta.name).is_file():
            line += f" ({meta.name} in this folder has no checkpoint beside it, so it is not used)"
        print(line)
    return sess, p, x, keep_prob


def _whose(path: Path) -> str:
    """Students train next to their notebook; anything else came with the course."""
    if path.parent != Path.cwd():
        return "the shipped checkpoint"
    return "your own checkpoint (TF 1.x's V1 format)" if _is_v1(path) else "your own checkpoint"


def manifest() -> list[dict]:
    """The shipped checkpoints: file, sha256, notebook, steps, test accuracy, TF version."""
    return json.loads(MANIFEST.read_text(encoding="utf-8"))["checkpoints"]
