"""``python3 tfbook.py ship-checkpoints``: the pretrained checkpoints in checkpoints/.

The catalog says which notebook ships which checkpoint (``ships``, and
``ships_graph`` for those shipped with their ``.meta`` graph file).  The
files come from the last full run (``build/lecture/trained/``, published by
``runs.py`` only from notebooks that ran without problems), and
``checkpoints/MANIFEST.json`` records each file's SHA-256, notebook, steps,
test accuracy and TensorFlow version.

The lecture's notebooks save with the slides' ``tf.train.Saver()``, which
keeps Adam's two slots per variable too: three times the model.  What ships
is lean, the model's variables only (``tfbook_utils.checkpoints.restore``
reads both kinds), except where the graph file ships with it: its saver
expects every variable.

All or nothing: everything is checked and copied into a staging folder
first; only then are the files renamed into place, the manifest last.  If
any step fails, the files already replaced are put back, so the shipped
files and ``MANIFEST.json`` never disagree.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from .catalog import REPO_ROOT, Notebook, by_checkpoint, shipping
from .runs import published_dir, read_results

CHECKPOINTS = REPO_ROOT / "checkpoints"


class CannotShip(Exception):
    """Nothing was changed; the message says why."""


def write_lean(prefix: Path, target: Path) -> list[Path]:
    """Checkpoint ``prefix`` saved again as ``target`` with the model's variables
    only, under their own names; returns the files written."""
    import tensorflow.compat.v1 as tf

    from tfbook_utils.checkpoints import model_variables_in

    wanted = [name for name, _ in model_variables_in(prefix)]
    reader = tf.train.load_checkpoint(str(prefix))
    with tf.Graph().as_default():
        variables = [tf.Variable(reader.get_tensor(name), name=name) for name in wanted]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver(variables).save(sess, str(target), write_meta_graph=False, write_state=False)
    if [name for name, _ in tf.train.list_variables(str(target))] != sorted(wanted):
        raise CannotShip(f"{prefix.name}: the lean copy does not hold the model's variables. Nothing was changed.")
    return sorted(target.parent.glob(target.name + ".*"))


def planned_files(notebook: Notebook, trained: Path) -> list[Path]:
    """The files of ``notebook``'s checkpoint that ship: .index and .data, and .meta where wanted."""
    assert notebook.ships is not None
    parts = sorted(trained.glob(notebook.ships + ".*"))
    parts = [p for p in parts if p.suffix != ".meta" or notebook.ships_graph]
    kinds = {".index", ".meta"} if notebook.ships_graph else {".index"}
    if not kinds <= {p.suffix for p in parts} or not any(".data-" in p.name for p in parts):
        raise CannotShip(f"{notebook.ships}: the last full run left no complete checkpoint in "
                         f"{trained}; run `python3 tfbook.py refresh {notebook.tag}` first. Nothing was changed.")
    return parts


def test_accuracy(notebook: Notebook, results: dict[str, dict]) -> float:
    """The accuracy the notebook's last clean full run printed; ``CannotShip`` without one."""
    record = results.get(notebook.relative_path)
    accuracy = re.search(r"accuracy ([0-9.]+)", record["result"]) if record else None
    if record is None or record["error"] or record["problems"] or accuracy is None:
        raise CannotShip(f"{notebook.ships}: {notebook.title} has no clean full run with an accuracy; "
                         f"run `python3 tfbook.py refresh {notebook.tag}` first. Nothing was changed.")
    return float(accuracy.group(1))


def stage(notebook: Notebook, files: list[Path], staging: Path) -> list[Path]:
    """The files to ship for ``notebook``, written into ``staging``: copies where
    the graph file ships too, a lean checkpoint otherwise."""
    assert notebook.ships is not None
    if notebook.ships_graph:
        for f in files:
            shutil.copy2(f, staging / f.name)
        return [staging / f.name for f in files]
    return write_lean(files[0].parent / notebook.ships, staging / notebook.ships)


def ship(names: list[str], build: Path | None = None, target: Path = CHECKPOINTS, tf_version: str | None = None) -> str:
    """Ship the checkpoints ``names`` (prefixes; all when empty).  Returns a
    summary line; ``CannotShip`` when nothing was changed."""
    try:
        notebooks = [by_checkpoint(name) for name in names] if names else shipping()
    except KeyError as error:
        raise CannotShip(f"{error.args[0]}. Nothing was changed.") from None
    run = published_dir(quick=False, **({"build": build} if build else {}))
    results = read_results(run)
    plan = {n: planned_files(n, run / "trained") for n in notebooks}
    accuracies = {n: test_accuracy(n, results) for n in notebooks}
    if tf_version is None:
        import tensorflow as tf

        tf_version = tf.__version__
    from tfbook_utils.paths import file_digest

    manifest_path = target / "MANIFEST.json"
    kept = json.loads(manifest_path.read_text(encoding="utf-8"))["checkpoints"] if manifest_path.is_file() else []
    shipped = {n.ships for n in notebooks}
    staging = Path(tempfile.mkdtemp(dir=target, prefix=".staging-"))
    backup = staging / "backup"
    backup.mkdir()
    replaced: list[Path] = []
    try:
        staged = {n: stage(n, files, staging) for n, files in plan.items()}  # 1. everything beside its destination
        entries = [{"file": f.name, "sha256": file_digest(f), "notebook": n.relative_path,
                    "steps": int(n.ships.rsplit("-", 1)[1]), "test_accuracy": accuracies[n], "tensorflow": tf_version}
                   for n in notebooks for f in staged[n]]
        manifest = {"checkpoints": [e for e in kept if e["file"].split(".")[0] not in shipped] + entries}
        (staging / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        old = [p for n in notebooks for p in target.glob(n.ships + ".*")] + [manifest_path] * manifest_path.is_file()
        for p in old:  # 2. keep the old files aside
            shutil.copy2(p, backup / p.name)
        for p in old:
            p.unlink()
        for f in [f for files in staged.values() for f in files] + [staging / "MANIFEST.json"]:  # 3. into place
            os.replace(f, target / f.name)
            replaced.append(target / f.name)
    except OSError as error:
        for p in replaced:
            p.unlink(missing_ok=True)
        for p in backup.iterdir():
            os.replace(p, target / p.name)
        raise CannotShip(f"copying failed ({error}); checkpoints/ is as it was.") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return f"shipped {', '.join(sorted(shipped))} into {target.name}/ and updated MANIFEST.json"
