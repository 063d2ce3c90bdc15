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

Crash-safe in the strong sense (nothing in checkpoints/ is lost, whatever fails):

1. The complete new set -- every file and the new ``MANIFEST.json`` -- is
   written into a staging folder beside the originals
   (``checkpoints/.staging-*``), synced, and checked (size and SHA-256).
   The originals are not touched; if anything fails here (a full disk, a
   file that cannot be written), the staging folder goes and that is all.
2. The originals get a second name in the staging folder (a hard link: no
   copy, no disk space), and a journal there says that the swap begins.
3. With Ctrl-C held back, the new files are renamed into place, the old
   files that are no longer shipped removed, and the result checked
   against the new manifest.
4. If step 3 fails, every original is renamed back from its second name
   and then compared byte for byte with what was there before; the one line
   that is printed says what is true: unchanged, or -- if putting back
   failed too -- where the originals are kept and how to copy them back.
   A ship-checkpoints that was killed during step 3 leaves its journal, and
   the next one puts the originals back before it starts.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from .catalog import REPO_ROOT, Notebook, by_checkpoint, shipping
from .files import ADVICE, advice, digest, machine_trouble, second_name, sync_folder, verified_copy, write_atomic
from .lifetime import signals_held
from .runs import published_dir, read_results, shown

CHECKPOINTS = REPO_ROOT / "checkpoints"
JOURNAL = "SWAPPING.json"  # in a staging folder: the swap has begun (the old and the new file names)
ORIGINALS = "originals"  # in a staging folder: second names of the originals while they are swapped


class CannotShip(Exception):
    """Shipping stopped; the message says why and, truthfully, what state checkpoints/ is in."""


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
            verified_copy(f, staging / f.name)
        return [staging / f.name for f in files]
    written = write_lean(files[0].parent / notebook.ships, staging / notebook.ships)
    for f in written:
        with open(f, "rb+") as handle:
            os.fsync(handle.fileno())
    return written




def _snapshot(target: Path) -> dict[str, tuple[int, str]]:
    """(size, SHA-256) of every shipped file in ``target`` (hidden ones aside)."""
    return {p.name: digest(p) for p in sorted(target.iterdir()) if p.is_file() and not p.name.startswith(".")}


def _compared(target: Path, before: dict[str, tuple[int, str]]) -> tuple[bool, str]:
    """(whether ``target`` is as ``before``, that said in words), checked byte for byte."""
    try:
        now = _snapshot(target)
    except OSError as error:
        return False, f"{shown(target)}/ could not be checked ({machine_trouble(error)})"
    if now == before:
        return True, f"{shown(target)}/ is unchanged ({len(before)} files checked byte for byte)."
    differ = sorted(name for name in set(now) | set(before) if now.get(name) != before.get(name))
    return False, f"{shown(target)}/ differs from before in {', '.join(differ)}"


def _why(error: BaseException) -> str:
    """One line for whatever stopped the writing (OSError, a TensorFlow error ...)."""
    if isinstance(error, OSError) and not type(error).__module__.startswith("tensorflow"):
        return machine_trouble(error)
    text = getattr(error, "message", None) or str(error)  # TensorFlow's errors: "<path>; <strerror>\n<graph node>"
    lines = [line.strip() for line in text.splitlines() if line.strip()] or [type(error).__name__]
    # the line that says what the system refused, else the first ("Graph execution error:" says nothing)
    line = next((line for line in lines if any(os.strerror(n) in line for n in ADVICE)), lines[0])
    return (line if len(line) <= 240 else "..." + line[-240:]) + advice(line)


@contextlib.contextmanager
def _one_shipper(target: Path) -> Iterator[None]:
    """One ship-checkpoints at a time in ``target`` (a lock on the folder itself)."""
    if os.name != "posix":
        yield
        return
    import fcntl

    handle = os.open(target, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CannotShip(f"another ship-checkpoints is working in {shown(target)}/: let it finish. "
                             "Nothing was changed.") from None
        yield
    finally:
        os.close(handle)


def _kept_entries(path: Path, everything: bool, say: Callable[[str], None]) -> list[dict]:
    """The entries of the current manifest; a damaged one is rebuilt when every checkpoint ships now."""
    if not path.is_file():
        return []
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["checkpoints"]
        if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("file"), str)
                                                    for e in entries):
            raise ValueError("it is not a list of files")
        return entries
    except (ValueError, KeyError, TypeError) as error:
        why = (str(error).splitlines() or [type(error).__name__])[0][:120]
        if not everything:
            raise CannotShip(f"{shown(path)} is damaged ({why}): ship every checkpoint "
                             "(`python3 tfbook.py ship-checkpoints`, no names) to rebuild it. "
                             "Nothing was changed.") from None
        say(f"{shown(path)} is damaged ({why}): it is rebuilt from the checkpoints shipped now "
            f"(`git diff {shown(path)}` shows the damage).")
        return []


def _put_back(target: Path, staging: Path) -> list[str]:
    """Undo a swap from its journal: the new files out, every original back by
    its second name.  Returns what could not be done (nothing: all back)."""
    journal = json.loads((staging / JOURNAL).read_text(encoding="utf-8"))
    failed = []
    for name in journal["new"]:
        if name not in journal["old"]:
            try:
                (target / name).unlink(missing_ok=True)
            except OSError as error:
                failed.append(machine_trouble(error))
    for name in journal["old"]:
        kept = staging / ORIGINALS / name
        try:
            if kept.exists():
                os.replace(kept, target / name)
        except OSError as error:
            with contextlib.suppress(OSError):  # never replaced (it could not be): the original is in place
                if digest(target / name) == digest(kept):
                    continue
            failed.append(machine_trouble(error))
    with contextlib.suppress(OSError):
        sync_folder(target)
    return failed


def _recover(target: Path, say: Callable[[str], None]) -> None:
    """Put back the originals of a swap that a killed ship-checkpoints began, and
    remove the staging folders it left."""
    for staging in sorted(target.glob(".staging-*")):
        if (staging / JOURNAL).is_file():
            failed = _put_back(target, staging)
            if failed:
                raise CannotShip(f"a ship-checkpoints stopped during its swap left {shown(target)}/ mixed, and putting "
                                 f"back its originals failed ({failed[0]}); they are kept in "
                                 f"{shown(staging / ORIGINALS)}/: copy them into {shown(target)}/ with cp -p.")
            say(f"a ship-checkpoints stopped during its swap had left {shown(target)}/ mixed: its originals are "
                "put back.")
        shutil.rmtree(staging, ignore_errors=True)


def _write_new_set(plan: dict[Notebook, list[Path]], accuracies: dict[Notebook, float], tf_version: str,
                   kept: list[dict], staging: Path) -> dict[str, tuple[int, str]]:
    """Every file of the new set, the manifest too, written into ``staging`` and
    synced; returns name -> (size, SHA-256), which the swap checks against."""
    staged = {n: stage(n, files, staging) for n, files in plan.items()}
    new = {f.name: digest(f) for files in staged.values() for f in files}
    entries = [{"file": f.name, "sha256": new[f.name][1], "notebook": n.relative_path,
                "steps": int(str(n.ships).rsplit("-", 1)[1]), "test_accuracy": accuracies[n], "tensorflow": tf_version}
               for n, files in staged.items() for f in files]
    shipped = {n.ships for n in plan}
    manifest = {"checkpoints": [e for e in kept if e["file"].split(".")[0] not in shipped] + entries}
    write_atomic(staging / "MANIFEST.json", (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    new["MANIFEST.json"] = digest(staging / "MANIFEST.json")
    sync_folder(staging)
    return new


def _swap(target: Path, staging: Path, new: dict[str, tuple[int, str]], old: list[str],
          before: dict[str, tuple[int, str]]) -> None:
    """Steps 2 to 4 of the module docstring."""
    originals = staging / ORIGINALS
    try:
        originals.mkdir()
        for name in old:
            second_name(target / name, originals / name)
        sync_folder(originals)
        write_atomic(staging / JOURNAL, json.dumps({"old": old, "new": sorted(new)}).encode("utf-8"))
        sync_folder(staging)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise CannotShip(f"keeping the originals aside failed ({machine_trouble(error)}); "
                         f"{_compared(target, before)[1]}") from None
    with signals_held():
        try:
            for name in new:
                os.replace(staging / name, target / name)
            for name in set(old) - set(new):
                (target / name).unlink()
            sync_folder(target)
            wrong = [name for name, expected in new.items() if digest(target / name) != expected]
            if wrong:
                raise OSError(errno.EIO, "differs from its checked copy after the swap", str(target / wrong[0]))
            (staging / JOURNAL).unlink()  # done: a later ship-checkpoints must not put the originals back
        except OSError as error:
            failed = _put_back(target, staging)
            same, state = _compared(target, before)
            if failed or not same:
                raise CannotShip(f"putting the new files in place failed ({machine_trouble(error)}), and so did "
                                 f"putting back the originals ({failed[0] if failed else state}); they are kept in "
                                 f"{shown(originals)}/: copy them into {shown(target)}/ with cp -p (or run "
                                 "ship-checkpoints again, which puts them back first).") from None
            shutil.rmtree(staging, ignore_errors=True)
            raise CannotShip(f"putting the new files in place failed ({machine_trouble(error)}); every original "
                             f"was put back: {state}") from None
    shutil.rmtree(staging, ignore_errors=True)


def ship(names: list[str], build: Path | None = None, target: Path = CHECKPOINTS, tf_version: str | None = None,
         say: Callable[[str], None] = print) -> str:
    """Ship the checkpoints ``names`` (prefixes; all when empty).  Returns a
    summary line; ``CannotShip`` says what stopped it and what state ``target`` is in."""
    try:
        notebooks = [by_checkpoint(name) for name in names] if names else shipping()
    except KeyError as error:
        raise CannotShip(f"{error.args[0]}. Nothing was changed.") from None
    run = published_dir(quick=False, **({"build": build} if build else {}))
    results = read_results(run, say)
    plan = {n: planned_files(n, run / "trained") for n in notebooks}
    accuracies = {n: test_accuracy(n, results) for n in notebooks}
    if tf_version is None:
        import tensorflow as tf

        tf_version = tf.__version__
    with _one_shipper(target):
        _recover(target, say)
        manifest = target / "MANIFEST.json"
        kept = _kept_entries(manifest, set(notebooks) == set(shipping()), say)
        before = _snapshot(target)
        try:
            staging = Path(tempfile.mkdtemp(dir=target, prefix=".staging-"))
        except OSError as error:
            raise CannotShip(f"{machine_trouble(error)}. Nothing was changed.") from None
        try:
            new = _write_new_set(plan, accuracies, tf_version, kept, staging)
        except Exception as error:  # noqa: BLE001 - whatever stopped the writing, no original was touched
            shutil.rmtree(staging, ignore_errors=True)
            raise CannotShip(f"writing the new set failed ({_why(error)}); {_compared(target, before)[1]}") from None
        old = sorted({p.name for n in notebooks for p in target.glob(f"{n.ships}.*")} | {manifest.name} & set(before))
        _swap(target, staging, new, old, before)
    return f"shipped {', '.join(sorted(str(n.ships) for n in notebooks))} into {target.name}/ and updated MANIFEST.json"
