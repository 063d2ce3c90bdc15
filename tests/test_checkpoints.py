"""Restoring the lecture's unnamed variables: own file first, graph built
twice, changed hyperparameters, missing and damaged files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from tests.lecture_models import cnn_graph, mdc_graph
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


# -- both kinds of file: the lean Saver(tf.trainable_variables()) and the slides' plain Saver() ----------


SAVERS = {
    "lean": lambda: tf.train.Saver(tf.trainable_variables()),
    "full": lambda: tf.train.Saver(),  # [MDC-06] / [CNN-07] as the slides print it: Adam's slots and beta powers too
}


@pytest.mark.parametrize("builds", [1, 2], ids=["once", "model cells ran twice"])
@pytest.mark.parametrize("kind", list(SAVERS))
@pytest.mark.parametrize("build", [mdc_graph, cnn_graph], ids=lambda build: build.__name__)
def test_both_kinds_of_saved_file_restore_the_trained_model(tmp_path, monkeypatch, mnist, build, kind, builds) -> None:
    monkeypatch.chdir(tmp_path)
    images = mnist.test.images[:100]
    with tf.Graph().as_default():
        tf.set_random_seed(2)
        for _ in range(builds):
            model = build()
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        for step in range(3):
            batch = mnist.train.images[50 * step:50 * step + 50], mnist.train.labels[50 * step:50 * step + 50]
            sess.run(model["train_step"], feed_dict={model["x"]: batch[0], model["t"]: batch[1], **model["feed"]})
        SAVERS[kind]().save(sess, "model_session", global_step=3)
        expected = sess.run(model["p"], feed_dict={model["x"]: images, **model["feed"]})
        sess.close()
    saved = [n for n, _ in tf.train.list_variables("model_session-3")]
    assert any("Adam" in n for n in saved) == (kind == "full")
    with tf.Graph().as_default():
        model = build()  # with its Adam optimizer, as [MDR-05] builds it
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        checkpoints.restore(sess, "model_session-3", verbose=False)
        restored = sess.run(model["p"], feed_dict={model["x"]: images, **model["feed"]})
    np.testing.assert_allclose(restored, expected, atol=1e-5)


# -- one line, and nothing restored, for every way a restore can go wrong ---------------------------------


def one_line(error: CheckpointError) -> str:
    message = str(error)
    assert error._render_traceback_() == [f"CheckpointError: {message}"] and "\n" not in message
    return message


@pytest.fixture()
def mdc_session(tmp_path, monkeypatch):
    """A fresh MDC graph and session, in a folder without checkpoints (the shipped one is used)."""
    monkeypatch.chdir(tmp_path)
    with tf.Graph().as_default():
        model = mdc_graph()
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        yield sess, model
        sess.close()


@pytest.mark.parametrize(
    "arguments, words",
    [
        (lambda sess: (sess, None), "not NoneType"),
        (lambda sess: (sess, 4000), "not int 4000"),
        (lambda sess: (sess, ""), "empty"),
        (lambda sess: ("mdc_session-4000", sess), "session first"),  # the arguments swapped
        (lambda sess: (None, "mdc_session-4000"), "not a tf.Session"),
    ],
    ids=["name None", "name a number", "name empty", "arguments swapped", "no session"],
)
def test_wrong_arguments_get_one_line(mdc_session, arguments, words) -> None:
    sess, _ = mdc_session
    with pytest.raises(CheckpointError) as caught:
        checkpoints.restore(*arguments(sess))
    assert words in one_line(caught.value)


def test_a_closed_session_gets_one_line(mdc_session) -> None:
    sess, _ = mdc_session
    sess.close()
    with pytest.raises(CheckpointError) as caught:
        checkpoints.restore(sess, "mdc_session-4000")
    assert "closed" in one_line(caught.value)


@pytest.mark.parametrize("name", ["mdc_session-4000.index", "mdc_session-4000.meta", Path("mdc_session-4000")])
def test_a_file_name_or_path_names_its_checkpoint(mdc_session, name) -> None:
    sess, _ = mdc_session
    assert checkpoints.restore(sess, name, verbose=False) == checkpoints.CHECKPOINT_DIR / "mdc_session-4000"


def test_a_graph_with_only_the_last_layer_is_not_restored(tmp_path, monkeypatch) -> None:
    """Two of the CNN's eight variables: refused, naming the six that would be missing."""
    monkeypatch.chdir(tmp_path)
    with tf.Graph().as_default():
        w0 = tf.Variable(tf.zeros([1024, 10]))
        tf.Variable(tf.zeros([10]))
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        with pytest.raises(CheckpointError) as caught:
            checkpoints.restore(sess, "cnn_session-20000")
        assert not sess.run(w0).any()  # nothing was restored
    message = one_line(caught.value)
    assert "holds 8 variables" in message and "only 2" in message
    assert "Variable, Variable_1, ..., Variable_5 (6 variables)" in message


def test_a_model_with_one_variable_more_is_not_restored(tmp_path, monkeypatch, capsys) -> None:
    """A variable before the lecture's layers (say, a learned input scale) would stay random."""
    monkeypatch.chdir(tmp_path)
    with tf.Graph().as_default():
        scale = tf.Variable(tf.ones([784]))
        model = mdc_graph()
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        with pytest.raises(CheckpointError) as caught:
            checkpoints.restore(sess, "mdc_session-4000")
        assert not sess.run(model["p"], feed_dict={model["x"]: np.ones((1, 784))}).std()  # w0 still zeros
    message = one_line(caught.value)
    assert f"fills the newest 5: {scale.op.name} (1 variable) would not be restored" in message
    assert "Run the notebook from its first cell" in message
    assert "Restored" not in capsys.readouterr().out


def test_cells_that_ran_unevenly_get_one_line(tmp_path, monkeypatch) -> None:
    """The whole model, then its first layer again: the graph's newest variables are no model."""
    monkeypatch.chdir(tmp_path)
    with tf.Graph().as_default():
        cnn_graph()
        tf.Variable(tf.truncated_normal([5, 5, 1, 32]))  # [CNN-03] ran again
        tf.Variable(tf.constant(0.1, shape=[32]))
        sess = tf.Session()
        with pytest.raises(CheckpointError) as caught:
            checkpoints.restore(sess, "cnn_session-20000")
    assert "do not line up" in one_line(caught.value)


def test_load_model_says_whose_graph_file_and_ignores_a_lone_one(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bnc_session-10000.meta").write_bytes(b"a graph file without its checkpoint")
    sess, p, x, keep_prob = checkpoints.load_model("bnc_session-10000")
    said = capsys.readouterr().out
    assert said.startswith("Loaded the network from the shipped graph file checkpoints/bnc_session-10000.meta")
    assert "bnc_session-10000.meta in this folder has no checkpoint beside it, so it is not used" in said
    assert said.count("\n") == 1
    sess.close()


def test_an_own_checkpoint_without_its_data_file_gets_one_line(own_checkpoint, mnist) -> None:
    next(Path.cwd().glob("mdc_session-4000.data-*")).unlink()
    with pytest.raises(CheckpointError) as caught:
        restored_predictions(mnist)
    assert "incomplete" in one_line(caught.value)
    with pytest.raises(CheckpointError, match="incomplete"):
        checkpoints.load_model("mdc_session-4000")


def test_a_session_on_an_empty_graph_is_not_called_closed(tmp_path, monkeypatch) -> None:
    """A session made before tf.reset_default_graph() ran: its graph is empty, the model is elsewhere."""
    monkeypatch.chdir(tmp_path)
    with tf.Graph().as_default():
        sess = tf.Session()
    with tf.Graph().as_default():
        mdc_graph()
        with pytest.raises(CheckpointError) as caught:
            checkpoints.restore(sess, "mdc_session-4000")
    message = one_line(caught.value)
    assert "graph is empty" in message and "tf.reset_default_graph()" in message and "closed" not in message


def test_an_eager_session_is_not_called_closed(tmp_path, monkeypatch) -> None:
    """Without tf.disable_eager_execution() a tf.Session's graph stays empty (seen in a fresh process)."""
    monkeypatch.chdir(tmp_path)
    with tf.Graph().as_default():
        sess = tf.Session()
    monkeypatch.setattr(checkpoints.tf, "executing_eagerly", lambda: True)  # this process runs graph mode
    with pytest.raises(CheckpointError) as caught:
        checkpoints.restore(sess, "mdc_session-4000")
    message = one_line(caught.value)
    assert "runs eagerly" in message and "tf.disable_eager_execution()" in message and "closed" not in message


@pytest.mark.parametrize(
    "build, name, fits",
    [(mdc_graph, "cnn_session-20000", "mdc_session-4000"), (cnn_graph, "bnc_session-10000", "cnn_session-20000")],
    ids=["CNN's into MDC", "batch-norm CNN's into CNN"],
)
def test_another_networks_checkpoint_is_named_as_such(tmp_path, monkeypatch, build, name, fits) -> None:
    monkeypatch.chdir(tmp_path)
    with tf.Graph().as_default():
        build()
        sess = tf.Session()
        with pytest.raises(CheckpointError) as caught:
            checkpoints.restore(sess, name)
    message = one_line(caught.value)
    assert "a checkpoint of a different network" in message and "more often" not in message
    assert "[5, 5, 1, 32]" in message  # the shapes that differ are named
    assert f"the shipped one that fits your graph is '{fits}'" in message


def save_v1(name: str) -> list[np.ndarray]:
    """An MDC model saved the way TF 1.x's Saver did before 1.0 (format V1: one file, no .index)."""
    with tf.Graph().as_default():
        tf.set_random_seed(3)
        mdc_graph()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            saver = tf.train.Saver(tf.trainable_variables(), write_version=tf.train.SaverDef.V1)
            saver.save(sess, name, global_step=4000, write_meta_graph=False)
            return sess.run(tf.trainable_variables())


@pytest.mark.parametrize("name", ["mdc_session", "model.ckpt"])
def test_a_tf1_v1_checkpoint_in_the_folder_is_restored_and_named(tmp_path, monkeypatch, capsys, name) -> None:
    """Before the shipped one of the same name, and under a name that is not shipped."""
    monkeypatch.chdir(tmp_path)
    saved = save_v1(name)
    assert (tmp_path / f"{name}-4000").is_file() and not (tmp_path / f"{name}-4000.index").exists()
    with tf.Graph().as_default():
        mdc_graph()
        sess = tf.Session()
        assert checkpoints.restore(sess, f"{name}-4000") == tmp_path / f"{name}-4000"
        for value, expected in zip(sess.run(tf.trainable_variables()), saved, strict=True):
            np.testing.assert_array_equal(value, expected)
    said = capsys.readouterr().out
    assert f"Restored your own checkpoint (TF 1.x's V1 format): {name}-4000" in said


def test_a_damaged_v1_file_is_named_as_one(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "old_session-10").write_bytes(b"\0" * 100)
    with tf.Graph().as_default():
        mdc_graph()
        sess = tf.Session()
        with pytest.raises(CheckpointError) as caught:
            checkpoints.restore(sess, "old_session-10")
    message = one_line(caught.value)
    assert "TF 1.x checkpoint in the older V1 format" in message and "No checkpoint" not in message
