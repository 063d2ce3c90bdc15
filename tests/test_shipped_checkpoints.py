"""The pretrained checkpoints in checkpoints/: listed, intact, lean, accurate."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from tests.lecture_models import cnn_graph, evaluate, mdc_graph
from tfbook_utils import checkpoints
from tfbook_utils.mnist import read_data_sets
from tfbook_utils.paths import CHECKPOINT_DIR, file_digest

tf.disable_eager_execution()

SHIPPED = {
    # name: (graph builder, minimum test accuracy from the issues)
    "mdc_session-4000": (mdc_graph, 0.975),
    "cnn_session-20000": (cnn_graph, 0.989),
    "bnc_session-10000": (None, 0.995),  # rebuilt from its .meta graph file, as the recognizer does
}


def test_manifest_lists_every_shipped_file_with_its_checksum() -> None:
    entries = checkpoints.manifest()
    listed = {entry["file"] for entry in entries}
    on_disk = {p.name for p in CHECKPOINT_DIR.iterdir() if p.name.split(".")[0] in SHIPPED}
    assert listed == on_disk
    for entry in entries:
        assert file_digest(CHECKPOINT_DIR / entry["file"]) == entry["sha256"], entry["file"]
        assert entry["tensorflow"].startswith("2.21")
        assert entry["notebook"].startswith("chapters/") and entry["steps"] in (4000, 10000, 20000)


def test_shipped_checkpoints_are_lean() -> None:
    """Model parameters only: no Adam slots, no beta powers."""
    for name in SHIPPED:
        names = [n for n, _ in tf.train.list_variables(str(CHECKPOINT_DIR / name))]
        assert not any("Adam" in n or "power" in n for n in names), names


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint_reproduces_its_accuracy(name: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no student's own file here: the shipped one is used
    build, minimum = SHIPPED[name]
    mnist = read_data_sets(one_hot=True)
    if build is None:
        sess, p, x, keep_prob = checkpoints.load_model(name, verbose=False)
        predictions = np.concatenate([sess.run(p, feed_dict={x: mnist.test.images[i:i + 2500], keep_prob: 1.0})
                                      for i in range(0, 10000, 2500)])
        accuracy = float(np.mean(predictions.argmax(1) == mnist.test.labels.argmax(1)))
    else:
        with tf.Graph().as_default():
            model = build()
            sess = tf.Session()
            sess.run(tf.global_variables_initializer())
            path = checkpoints.restore(sess, name, verbose=False)
            assert path.parent == CHECKPOINT_DIR
            accuracy = evaluate(sess, model, mnist.test.images, mnist.test.labels)
    listed = {e["file"].rsplit(".", 1)[0]: e["test_accuracy"] for e in checkpoints.manifest()}
    assert accuracy >= minimum
    assert accuracy == pytest.approx(listed[name], abs=0.002)
