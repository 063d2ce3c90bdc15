"""``python3 tfbook.py ship-checkpoints``: the pretrained checkpoints in checkpoints/.

The catalog says which notebook ships which checkpoint (``ships``, and
``ships_graph`` for those shipped with their ``.meta`` graph file).  The
files come from the last full run (``build/lecture/trained/``, published by
``runs.py`` only from notebooks that ran without problems), and
``checkpoints/MANIFEST.json`` records each file's SHA-256, notebook, steps,
test accuracy and TensorFlow version.

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


def manifest_entries(notebook: Notebook, files: list[Path], results: dict[str, dict], tf_version: str) -> list[dict]:
    record = results.get(notebook.relative_path)
    accuracy = re.search(r"accuracy ([0-9.]+)", record["result"]) if record else None
    if record is None or record["error"] or record["problems"] or accuracy is None:
        raise CannotShip(f"{notebook.ships}: {notebook.title} has no clean full run with an accuracy; "
                         f"run `python3 tfbook.py refresh {notebook.tag}` first. Nothing was changed.")
    from tfbook_utils.paths import file_digest

    return [{"file": f.name, "sha256": file_digest(f), "notebook": notebook.relative_path,
             "steps": int(notebook.ships.rsplit("-", 1)[1]), "test_accuracy": float(accuracy.group(1)),
             "tensorflow": tf_version} for f in files]


def ship(names: list[str], build: Path | None = None, target: Path = CHECKPOINTS, tf_version: str | None = None) -> str:
    """Ship the checkpoints ``names`` (prefixes; all when empty).  Returns a
    summary line; ``CannotShip`` when nothing was changed."""
    try:
        notebooks = [by_checkpoint(name) for name in names] if names else shipping()
    except KeyError as error:
        raise CannotShip(f"{error.args[0]}. Nothing was changed.") from None
    run = published_dir(quick=False, **({"build": build} if build else {}))
    results = read_results(run)
    if tf_version is None:
        import tensorflow as tf

        tf_version = tf.__version__
    plan = {n: planned_files(n, run / "trained") for n in notebooks}
    entries = {n: manifest_entries(n, files, results, tf_version) for n, files in plan.items()}

    manifest_path = target / "MANIFEST.json"
    kept = json.loads(manifest_path.read_text(encoding="utf-8"))["checkpoints"] if manifest_path.is_file() else []
    shipped = {n.ships for n in notebooks}
    manifest = {"checkpoints": [e for e in kept if e["file"].split(".")[0] not in shipped]
                + [e for n in notebooks for e in entries[n]]}

    staging = Path(tempfile.mkdtemp(dir=target, prefix=".staging-"))
    backup = staging / "backup"
    backup.mkdir()
    replaced: list[Path] = []
    try:
        for files in plan.values():  # 1. copy everything next to its destination
            for f in files:
                shutil.copy2(f, staging / f.name)
        (staging / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        old = [p for n in notebooks for p in target.glob(n.ships + ".*")] + [manifest_path] * manifest_path.is_file()
        for p in old:  # 2. keep the old files aside
            shutil.copy2(p, backup / p.name)
        for p in old:
            p.unlink()
        for f in [f for files in plan.values() for f in files] + [manifest_path]:  # 3. rename into place
            os.replace(staging / f.name, target / f.name)
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
