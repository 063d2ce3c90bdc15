"""The MNIST loader: the drop-in for TF 1.x ``input_data.read_data_sets``."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tfbook_utils import mnist
from tfbook_utils.errors import DataError
from tfbook_utils.paths import DATA_DIR

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def data() -> mnist.Datasets:
    return mnist.read_data_sets(one_hot=True, download=False)


def test_split_sizes_and_shapes(data: mnist.Datasets) -> None:
    assert (data.train.num_examples, data.validation.num_examples, data.test.num_examples) == (55000, 5000, 10000)
    assert data.train.images.shape == (55000, 784)
    assert data.train.images.dtype == np.float32 and data.train.labels.dtype == np.float32
    assert data.train.labels.shape == (55000, 10)
    assert 0.0 == data.test.images.min() and data.test.images.max() == 1.0


def test_label_counts_and_order_match_the_published_facts(data: mnist.Datasets) -> None:
    train_ids = np.concatenate([data.validation.labels, data.train.labels]).argmax(1)
    assert np.bincount(train_ids).tolist() == TRAIN_COUNTS
    assert np.bincount(data.test.labels.argmax(1)).tolist() == TEST_COUNTS
    assert train_ids[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert data.test.labels.argmax(1)[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    pixels = np.concatenate([data.validation.images, data.train.images])
    assert pixels.mean() == pytest.approx(0.1307, abs=1e-4)
    assert pixels.std() == pytest.approx(0.3081, abs=1e-4)


def test_integer_labels_without_one_hot() -> None:
    data = mnist.read_data_sets(one_hot=False, validation_size=0)
    assert data.train.num_examples == 60000 and data.validation.num_examples == 0
    assert data.train.labels[:5].tolist() == [5, 0, 4, 1, 9]


def test_next_batch_shuffles_each_epoch_and_completes_the_crossing_batch() -> None:
    images = np.arange(10, dtype=np.float32).reshape(10, 1)
    ds = mnist.DataSet(images, images.copy())
    np.random.seed(0)
    first_epoch = np.concatenate([ds.next_batch(3)[0] for _ in range(3)]).ravel()  # 9 of 10
    crossing, labels = ds.next_batch(3)  # 1 from epoch 1, 2 from epoch 2
    assert ds.epochs_completed == 1
    assert sorted(first_epoch.tolist() + crossing[:1].ravel().tolist()) == list(range(10))
    assert first_epoch.tolist() != sorted(first_epoch.tolist())  # shuffled
    np.testing.assert_array_equal(crossing, labels)  # images and labels stay paired
    rest = np.concatenate([ds.next_batch(4)[0] for _ in range(2)]).ravel()
    assert sorted(crossing[1:].ravel().tolist() + rest.tolist()) == list(range(10))


def test_next_batch_is_repeatable_with_numpy_seed_and_matches_tf1() -> None:
    def batches(seed: int) -> list[np.ndarray]:
        np.random.seed(seed)
        ds = mnist.DataSet(np.arange(7.0).reshape(7, 1), np.arange(7.0))
        return [ds.next_batch(3)[1] for _ in range(5)]

    assert all((a == b).all() for a, b in zip(batches(1), batches(1)))
    assert any((a != b).any() for a, b in zip(batches(1), batches(2)))
    # TF 1.x permuted the whole arrays; same random stream, same batches.
    np.random.seed(1)
    labels = np.arange(7.0)
    perm0 = np.arange(7)
    np.random.shuffle(perm0)
    labels = labels[perm0]
    expected = [labels[0:3], labels[3:6]]
    rest = labels[6:]
    perm = np.arange(7)
    np.random.shuffle(perm)
    labels = labels[perm]
    expected.append(np.concatenate([rest, labels[0:2]]))
    assert all((a == b).all() for a, b in zip(batches(1)[:3], expected))


def test_no_shuffle_returns_in_order() -> None:
    ds = mnist.DataSet(np.arange(5.0).reshape(5, 1), np.arange(5.0))
    assert ds.next_batch(3, shuffle=False)[1].tolist() == [0, 1, 2]
    assert ds.next_batch(3, shuffle=False)[1].tolist() == [3, 4, 0]


def copy_data(tmp_path: Path) -> Path:
    target = tmp_path / "mnist"
    shutil.copytree(DATA_DIR / "mnist", target)
    return target


def flip_one_byte(path: Path, offset: int = 5000) -> None:
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[offset] ^= 0xFF
    path.write_bytes(gzip.compress(bytes(raw)))


def test_uncompressed_content_is_verified_even_if_recompressed(tmp_path: Path, monkeypatch) -> None:
    folder = copy_data(tmp_path)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(gzip.decompress(labels.read_bytes()), compresslevel=1))
    monkeypatch.setenv("TFBOOK_DATA_DIR", str(folder))
    assert mnist.read_data_sets().test.num_examples == 10000
    flip_one_byte(labels)
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz.*SHA-256"):
        mnist.read_data_sets()


def test_truncated_file_is_named(tmp_path: Path) -> None:
    folder = copy_data(tmp_path)
    images = folder / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:100000])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz.*damaged"):
        mnist.read_data_sets(folder)


def test_missing_file_offline_says_where_it_looked(tmp_path: Path) -> None:
    folder = copy_data(tmp_path)
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz was not found.*TFBOOK_DATA_DIR"):
        mnist.read_data_sets(folder)


def test_download_failure_is_one_clear_message(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(mnist, "MIRRORS", ("http://127.0.0.1:9/",))
    monkeypatch.setattr(mnist, "DOWNLOAD_TIMEOUT_S", 2)
    with pytest.raises(DataError, match="could not be downloaded"):
        mnist._download("t10k-labels-idx1-ubyte.gz", tmp_path / "x.gz")


def test_corrupt_data_from_a_script_exits_with_a_message_not_a_traceback(tmp_path: Path) -> None:
    folder = copy_data(tmp_path)
    flip_one_byte(folder / "train-labels-idx1-ubyte.gz")
    env = {"TFBOOK_DATA_DIR": str(folder), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "tfbook_utils.mnist"], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode != 0
    assert "train-labels-idx1-ubyte.gz" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
