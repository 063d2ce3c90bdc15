"""Restoring the lecture's unnamed variables: own file first, graph built
twice, changed hyperparameters, missing and damaged files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from tests.lecture_models import mdc_graph
from tfbook_utils import checkpoints
from tfbook_utils.errors import CheckpointError
from tfbook_utils.mnist import read_data_sets

tf.disable_eager_execution()


@pytest.fixture(scope="module")
def mnist():
    return read_data_sets(one_hot=True)


@pytest.fixture()
def own_checkpoint(tmp_path: Path, monkeypatch, mnist) -> np.ndarray:
    """Train the MDC graph briefly and save it, as [MDC-07] does, in the
    current folder; return its predictions on 200 test images."""
    monkeypatch.chdir(tmp_path)
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        model = mdc_graph()
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        np.random.seed(1)
        for _ in range(20):
            images, labels = mnist.train.next_batch(50)
            sess.run(model["train_step"], feed_dict={model["x"]: images, model["t"]: labels})
        tf.train.Saver(tf.trainable_variables()).save(sess, "mdc_session", global_step=4000)
        predictions = sess.run(model["p"], feed_dict={model["x"]: mnist.test.images[:200]})
        sess.close()
    return predictions


def restored_predictions(mnist, builds: int = 1, num_filters: int = 16, name: str = "mdc_session-4000"):
    with tf.Graph().as_default():
        for _ in range(builds):
            model = mdc_graph(num_filters)
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        path = checkpoints.restore(sess, name)
        return path, sess.run(model["p"], feed_dict={model["x"]: mnist.test.images[:200]})


def test_own_checkpoint_is_preferred_and_restores_the_same_model(own_checkpoint, mnist, capsys) -> None:
    path, predictions = restored_predictions(mnist)
    assert path.parent == Path.cwd()
    assert "your own checkpoint: mdc_session-4000" in capsys.readouterr().out
    np.testing.assert_allclose(predictions, own_checkpoint, atol=1e-6)


def test_restore_after_the_graph_cells_ran_twice(own_checkpoint, mnist) -> None:
    _, predictions = restored_predictions(mnist, builds=2)
    np.testing.assert_allclose(predictions, own_checkpoint, atol=1e-6)


def test_checkpoint_saved_from_a_doubled_graph_restores_into_a_single_one(tmp_path, monkeypatch, mnist) -> None:
    monkeypatch.chdir(tmp_path)
    with tf.Graph().as_default():
        mdc_graph()
        model = mdc_graph()  # the student ran the model cells twice before training
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        tf.train.Saver(tf.trainable_variables()).save(sess, "mdc_session", global_step=4000)
        expected = sess.run(model["p"], feed_dict={model["x"]: mnist.test.images[:50]})
    _, predictions = restored_predictions(mnist)
    np.testing.assert_allclose(predictions[:50], expected, atol=1e-6)


def test_changed_num_filters_gets_one_clear_message(own_checkpoint, mnist) -> None:
    with pytest.raises(CheckpointError) as caught:
        restored_predictions(mnist, num_filters=32)
    message = str(caught.value)
    assert "[5, 5, 1, 16]" in message and "[5, 5, 1, 32]" in message
    assert "num_filters" in message
    assert caught.value._render_traceback_() == [f"CheckpointError: {message}"]


def test_missing_checkpoint_says_what_to_do(tmp_path, monkeypatch, mnist) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError, match="No checkpoint 'mdc_session-123'.*Run the training notebook"):
        restored_predictions(mnist, name="mdc_session-123")


def test_damaged_checkpoint_says_what_to_do(own_checkpoint, mnist) -> None:
    data = next(Path.cwd().glob("mdc_session-4000.data-*"))
    data.write_bytes(data.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="cannot be read"):
        restored_predictions(mnist)
