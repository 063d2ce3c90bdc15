"""``tfbook.py ship-checkpoints``: all files or none, and the manifest always
describes exactly the shipped files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from course_tools import catalog, shipping
from course_tools.catalog import REPO_ROOT
from tfbook_utils.paths import file_digest

tf.disable_eager_execution()


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: file_digest(p) for p in sorted(folder.iterdir())}


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
