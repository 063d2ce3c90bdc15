"""Chapter06's batch normalisation, run from the notebook's own cells: the
training / inference behaviour against numpy, and the trained model's trip
through a checkpoint (restored into rebuilt cells, or rebuilt from .meta)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from course_tools import catalog
from tfbook_utils import checkpoints
from tfbook_utils.errors import CheckpointError
from tfbook_utils.mnist import read_data_sets

tf.disable_eager_execution()

NOTEBOOK = catalog.by_tag("BNC").path


def cell(tag: str) -> str:
    """The code cell under the markdown cell tagged ``tag`` (e.g. 'BNC-03')."""
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    for above, below in zip(cells, cells[1:]):
        if above.cell_type == "markdown" and f"**[{tag}]**" in above.source:
            return below.source
    raise AssertionError(f"no cell tagged {tag} in {NOTEBOOK.name}")


def build_model(times: int = 1) -> dict:
    """[BNC-04] .. [BNC-07] in the current graph (``times`` > 1: cells run again)."""
    namespace: dict = {"tf": tf, "np": np}
    for _ in range(times):
        for tag in ("BNC-04", "BNC-05", "BNC-06", "BNC-07"):
            exec(cell(tag), namespace)
    return namespace


def test_batch_norm_uses_the_batch_while_training_and_moving_averages_after() -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(loc=[3.0, -2.0, 0.5], scale=[2.0, 0.5, 1.0], size=(64, 3)).astype(np.float32)
    with tf.Graph().as_default():
        namespace = {"tf": tf, "np": np}
        exec(cell("BNC-04"), namespace)
        y = tf.placeholder(tf.float32, [None, 3])
        normalised = namespace["batch_norm"](y, [0])
        updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
        moving_mean, moving_variance = tf.moving_average_variables()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            training = sess.run(normalised, feed_dict={y: data, namespace["is_training"]: True})
            expected = (data - data.mean(0)) / np.sqrt(data.var(0) + 1e-5)
            np.testing.assert_allclose(training, expected, rtol=1e-4, atol=1e-4)

            # before any update the moving averages are mean 0, variance 1: inference leaves data as it is
            np.testing.assert_allclose(sess.run(normalised, feed_dict={y: data}), data / np.sqrt(1 + 1e-5), rtol=1e-5)

            for _ in range(3):
                sess.run(updates, feed_dict={y: data})
            mean, variance = sess.run([moving_mean, moving_variance])
            np.testing.assert_allclose(mean, (1 - 0.99**3) * data.mean(0), rtol=1e-4)
            np.testing.assert_allclose(variance, 0.99**3 + (1 - 0.99**3) * data.var(0), rtol=1e-4)
            inference = sess.run(normalised, feed_dict={y: data[:1]})  # one image: no batch to average over
            np.testing.assert_allclose(inference, (data[:1] - mean) / np.sqrt(variance + 1e-5), rtol=1e-4, atol=1e-5)


@pytest.fixture()
def trained(tmp_path: Path, monkeypatch) -> tuple:
    """A briefly trained BNC model saved as [BNC-08]/[BNC-09] save it, in the current folder."""
    monkeypatch.chdir(tmp_path)
    mnist = read_data_sets(one_hot=True)
    images = mnist.test.images[:100]
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        m = build_model()
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        np.random.seed(1)
        for _ in range(30):
            xs, ts = mnist.train.next_batch(100)
            sess.run(m["train_step"], feed_dict={m["x"]: xs, m["t"]: ts, m["keep_prob"]: 0.75, m["is_training"]: True})
        saver = tf.train.Saver(tf.trainable_variables() + tf.moving_average_variables())
        saver.save(sess, "bnc_session", global_step=10000)
        expected = sess.run(m["p"], feed_dict={m["x"]: images, m["keep_prob"]: 1.0})
        sess.close()
    return images, expected


def test_restore_brings_back_the_moving_averages_even_after_cells_ran_twice(trained) -> None:
    images, expected = trained
    with tf.Graph().as_default():
        m = build_model(times=2)
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        checkpoints.restore(sess, "bnc_session-10000", verbose=False)
        restored = sess.run(m["p"], feed_dict={m["x"]: images, m["keep_prob"]: 1.0})
    np.testing.assert_allclose(restored, expected, atol=1e-5)


def test_the_recognizer_rebuilds_the_network_from_the_saved_graph(trained, capsys) -> None:
    images, expected = trained
    sess, p, x, keep_prob = checkpoints.load_model("bnc_session-10000")
    assert "your own checkpoint: bnc_session-10000" in capsys.readouterr().out
    np.testing.assert_allclose(sess.run(p, feed_dict={x: images, keep_prob: 1.0}), expected, atol=1e-5)


def test_a_checkpoint_without_its_graph_file_gets_one_message(trained) -> None:
    Path("bnc_session-10000.meta").unlink()
    with pytest.raises(CheckpointError, match="has no graph file"):
        checkpoints.load_model("bnc_session-10000")
