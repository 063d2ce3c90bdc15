"""``tfbook.py ship-checkpoints``: all files or none, and the manifest always
describes exactly the shipped files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from course_tools import catalog, shipping
from course_tools.catalog import REPO_ROOT
from tfbook_utils.paths import file_digest

from .machine import fill, read_only, small_disk

tf.disable_eager_execution()


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: file_digest(p) for p in sorted(folder.iterdir()) if p.is_file()}


def train_tiny(prefix: Path) -> None:
    """A real checkpoint as the notebooks save it (``tf.train.Saver()``: Adam's slots
    included), of a model with the lecture's unnamed variables, and its graph file."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        w, b = tf.Variable(tf.ones([3, 2])), tf.Variable(tf.zeros([2]))
        train_step = tf.train.AdamOptimizer(0.1).minimize(tf.reduce_sum(tf.matmul(x, w) + b))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train_step, feed_dict={x: np.ones((4, 3))})
            tf.train.Saver().save(sess, str(prefix), write_state=False)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    """A last full run that trained every shipped checkpoint (tiny real ones),
    and a copy of checkpoints/ to ship into."""
    build = tmp_path / "build"
    trained = build / "lecture" / "trained"
    trained.mkdir(parents=True)
    records = []
    for n in catalog.shipping():
        train_tiny(trained / n.ships)
        records.append({"notebook": n.relative_path, "result": "test accuracy 0.9912 after 20000 steps",
                        "error": "", "problems": [], "seconds": 1.0})
    (build / "lecture" / "results.json").write_text(json.dumps(records), encoding="utf-8")
    target = tmp_path / "checkpoints"
    shutil.copytree(REPO_ROOT / "checkpoints", target)
    return build, target


def test_shipping_replaces_the_files_and_the_manifest_describes_them(setup) -> None:
    build, target = setup
    shipping.ship([], build=build, target=target, tf_version="2.21.0")
    manifest = json.loads((target / "MANIFEST.json").read_text(encoding="utf-8"))["checkpoints"]
    files = {p.name for p in target.iterdir() if p.name != "MANIFEST.json"}
    assert {e["file"] for e in manifest} == files
    for entry in manifest:
        assert file_digest(target / entry["file"]) == entry["sha256"]
        assert entry["test_accuracy"] == 0.9912
    graphs = {name for name in files if name.endswith(".meta")}
    assert graphs == {f"{n.ships}.meta" for n in catalog.shipping() if n.ships_graph}
    for n in catalog.shipping():  # lean (the model's variables) unless its graph file ships with it
        saved = {name for name, _ in tf.train.list_variables(str(target / n.ships))}
        assert {"Variable", "Variable_1"} <= saved
        assert any("Adam" in name for name in saved) == n.ships_graph


def test_a_copy_that_fails_halfway_changes_nothing(setup, monkeypatch) -> None:
    build, target = setup
    before = snapshot(target)
    real_replace, calls = os.replace, []

    def failing_replace(source, destination):
        calls.append(destination)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_replace(source, destination)

    monkeypatch.setattr(shipping.os, "replace", failing_replace)
    with pytest.raises(shipping.CannotShip, match="every original was put back.*unchanged"):
        shipping.ship([], build=build, target=target, tf_version="2.21.0")
    assert snapshot(target) == before
    assert [p.name for p in target.iterdir() if p.name.startswith(".")] == []  # no staging left behind


def test_a_notebook_without_a_clean_full_run_ships_nothing(setup) -> None:
    build, target = setup
    before = snapshot(target)
    results = build / "lecture" / "results.json"
    records = json.loads(results.read_text(encoding="utf-8"))
    records[-1]["error"] = "the kernel died"
    results.write_text(json.dumps(records), encoding="utf-8")
    with pytest.raises(shipping.CannotShip, match="no clean full run"):
        shipping.ship([], build=build, target=target, tf_version="2.21.0")
    assert snapshot(target) == before


def test_missing_trained_files_or_unknown_names_ship_nothing(setup) -> None:
    build, target = setup
    before = snapshot(target)
    first = catalog.shipping()[0]
    next((build / "lecture" / "trained").glob(first.ships + ".data-*")).unlink()
    with pytest.raises(shipping.CannotShip, match="no complete checkpoint"):
        shipping.ship([], build=build, target=target, tf_version="2.21.0")
    with pytest.raises(shipping.CannotShip, match="no notebook ships"):
        shipping.ship(["nonsense_session-1"], build=build, target=target, tf_version="2.21.0")
    assert snapshot(target) == before


# ---------------------------------------------------------------------------
# crash safety: a full disk, a file that cannot be replaced, a rollback that fails
# ---------------------------------------------------------------------------

def consistent(target: Path) -> None:
    """checkpoints/ holds exactly the files MANIFEST.json lists, each with its digest, and no leftovers."""
    manifest = json.loads((target / "MANIFEST.json").read_text(encoding="utf-8"))["checkpoints"]
    assert {e["file"] for e in manifest} == {p.name for p in target.iterdir() if p.name != "MANIFEST.json"}
    assert all(file_digest(target / e["file"]) == e["sha256"] for e in manifest)


def test_ship_onto_a_nearly_full_disk_changes_nothing_or_ships_everything(setup, tmp_path: Path) -> None:
    build, _ = setup
    outcomes = {}
    for leave in (0, 8_000, 16_000, 28_000, 1_000_000):  # the disk fills at different files of the new set
        with small_disk(tmp_path / f"disk-{leave}", "32m") as disk:
            target = disk / "checkpoints"
            shutil.copytree(REPO_ROOT / "checkpoints", target)
            fill(disk, leave)
            before = snapshot(target)
            try:
                outcomes[leave] = shipping.ship([], build=build, target=target, tf_version="2.21.0")
            except shipping.CannotShip as error:
                outcomes[leave] = str(error)
                assert "\n" not in str(error) and str(error).endswith(f"unchanged ({len(before)} files checked "
                                                                     "byte for byte)."), str(error)
                assert "No space left on device" in str(error)
                assert snapshot(target) == before
            consistent(target)
    failed = [leave for leave, said in outcomes.items() if not said.startswith("shipped")]
    assert failed[:1] == [0] and 1_000_000 not in failed, outcomes  # a full disk refuses, a roomy one ships


def test_ship_with_a_file_that_cannot_be_replaced_puts_every_original_back(setup) -> None:
    build, target = setup
    before = snapshot(target)
    with read_only(target / "MANIFEST.json"):  # replaced last: every checkpoint file was swapped before it
        with pytest.raises(shipping.CannotShip) as refused:
            shipping.ship([], build=build, target=target, tf_version="2.21.0")
    said = str(refused.value)
    assert "MANIFEST.json" in said and "every original was put back" in said and "unchanged" in said, said
    assert snapshot(target) == before
    consistent(target)


def test_ship_whose_rollback_fails_keeps_the_originals_and_the_next_ship_puts_them_back(setup, monkeypatch) -> None:
    build, target = setup
    before = snapshot(target)
    real_replace, swapped = os.replace, []

    def failing_replace(source, destination):
        source, destination = Path(source), Path(destination)
        if destination.parent == target and source.parent.name != shipping.ORIGINALS:
            swapped.append(destination.name)
            if len(swapped) == 2:  # the swap fails at its second file ...
                raise OSError(5, "Input/output error", str(destination))
        elif destination.parent == target and destination.name == swapped[0]:  # ... and so does putting back the first
            raise OSError(5, "Input/output error", str(destination))
        return real_replace(source, destination)

    monkeypatch.setattr(shipping.os, "replace", failing_replace)
    with pytest.raises(shipping.CannotShip, match="so did putting back the originals.*they are kept in") as refused:
        shipping.ship([], build=build, target=target, tf_version="2.21.0")
    assert "\n" not in str(refused.value)
    monkeypatch.undo()
    kept = next(target.glob(".staging-*")) / shipping.ORIGINALS
    now = snapshot(target) | {p.name: file_digest(p) for p in kept.iterdir()}  # nothing lost: each is somewhere
    assert {name: now[name] for name in before} == before

    said: list[str] = []
    shipping.ship([], build=build, target=target, tf_version="2.21.0", say=said.append)
    assert any("originals are put back" in line for line in said), said
    consistent(target)
    assert not list(target.glob(".staging-*"))


def test_ship_with_a_damaged_manifest_or_results_file_says_so_and_rebuilds_them(setup) -> None:
    build, target = setup
    before = snapshot(target)
    manifest = target / "MANIFEST.json"
    manifest.write_text(manifest.read_text(encoding="utf-8")[:100], encoding="utf-8")  # cut short
    damaged = snapshot(target)
    first = catalog.shipping()[0].ships
    with pytest.raises(shipping.CannotShip, match="MANIFEST.json is damaged.*no names"):
        shipping.ship([first], build=build, target=target, tf_version="2.21.0")
    assert snapshot(target) == damaged

    results = build / "lecture" / "results.json"
    records = json.loads(results.read_text(encoding="utf-8"))
    (build / "lecture" / "records").mkdir()
    for n, record in zip(catalog.shipping(), records):
        (build / "lecture" / "records" / f"{n.tag}.json").write_text(json.dumps([record]), encoding="utf-8")
    results.write_text(results.read_text(encoding="utf-8")[:50], encoding="utf-8")
    said: list[str] = []
    shipping.ship([], build=build, target=target, tf_version="2.21.0", say=said.append)
    assert any("results.json was damaged" in line and "set aside as results.json.damaged-" in line for line in said)
    assert any("MANIFEST.json is damaged" in line and "rebuilt" in line for line in said), said
    assert len(list((build / "lecture").glob("results.json.damaged-*"))) == 1
    consistent(target)
    assert set(snapshot(target)) == set(before)


def test_ship_checkpoints_command_on_a_full_disk_is_one_line_and_no_traceback(setup, tmp_path: Path) -> None:
    build, _ = setup
    repo = tmp_path / "repo"  # what the command needs of the repository
    for folder in ("course_tools", "tfbook_utils"):
        shutil.copytree(REPO_ROOT / folder, repo / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(build, repo / "build")
    with small_disk(tmp_path / "disk", "32m") as disk:
        target = disk / "checkpoints"
        shutil.copytree(REPO_ROOT / "checkpoints", target)
        (repo / "checkpoints").symlink_to(target)
        fill(disk, 0)
        before = snapshot(target)
        done = subprocess.run([sys.executable, "-m", "course_tools", "ship-checkpoints"], cwd=repo, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(repo)}, capture_output=True, text=True)
        assert snapshot(target) == before
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout.strip().startswith("ship-checkpoints: writing the new set failed") and \
        len(done.stdout.strip().splitlines()) == 1, done.stdout
    assert "No space left on device -- free some space" in done.stdout
