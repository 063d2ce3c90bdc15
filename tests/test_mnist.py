"""The MNIST loader: the drop-in for TF 1.x ``input_data.read_data_sets``."""

from __future__ import annotations

import contextlib
import gzip
import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tfbook_utils import input_data, mnist
from tfbook_utils.errors import ArgumentError, DataError
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


def test_missing_file_offline_says_where_it_looked(tmp_path: Path, monkeypatch) -> None:
    folder = copy_data(tmp_path)
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    monkeypatch.setattr(mnist, "DATA_DIR", tmp_path / "no-shipped-copy")
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz was not found.*TFBOOK_DATA_DIR"):
        mnist.read_data_sets(folder, download=False)


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


# --- TF 1.x's arguments, as the slides and older code pass them ---------------------------------


def test_the_slides_call_runs_offline_with_only_the_import_changed(tmp_path: Path) -> None:
    """``input_data.read_data_sets("/tmp/data/", one_hot=True)``: a folder that does
    not exist (or lacks the files) gets the shipped copy, and nothing is written there."""
    folder = tmp_path / "tmp" / "data"
    data = input_data.read_data_sets(str(folder) + "/", one_hot=True)
    assert (data.train.num_examples, data.validation.num_examples, data.test.num_examples) == (55000, 5000, 10000)
    assert data.train.labels.shape == (55000, 10)
    assert not folder.exists() and list(tmp_path.iterdir()) == []


def test_the_folder_is_read_first_file_by_file_and_never_written(tmp_path: Path) -> None:
    folder = copy_data(tmp_path)
    (folder / "train-images-idx3-ubyte.gz").unlink()  # this one comes from the shipped copy
    flip_one_byte(folder / "t10k-labels-idx1-ubyte.gz")  # this one is read from the folder, and is wrong
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz.*SHA-256"):
        mnist.read_data_sets(folder, one_hot=True)
    shutil.copy(DATA_DIR / "mnist" / "t10k-labels-idx1-ubyte.gz", folder)
    before["t10k-labels-idx1-ubyte.gz"] = (folder / "t10k-labels-idx1-ubyte.gz").read_bytes()
    assert mnist.read_data_sets(folder).train.num_examples == 55000
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_tf1_defaults_and_types() -> None:
    import tensorflow.compat.v1 as tf

    data = mnist.read_data_sets("/nonexistent/", dtype=tf.uint8, reshape=False, validation_size=5000.0)
    assert data.test.labels[:3].tolist() == [7, 2, 1]  # one_hot=False, TF 1.x's default
    assert data.test.images.shape == (10000, 28, 28, 1) and data.test.images.dtype == np.uint8
    assert data.test.images.max() == 255
    floats = mnist.read_data_sets(dtype="float32", validation_size=np.int64(100))
    assert floats.validation.num_examples == 100 and floats.train.images.dtype == np.float32
    np.testing.assert_array_equal(floats.test.images.reshape(10000, 28, 28, 1) * 255, data.test.images)


def test_seed_makes_the_batches_repeatable_like_np_random_seed() -> None:
    def first_labels(**seed) -> list[int]:
        data = mnist.read_data_sets(validation_size=0, **seed)
        return data.train.next_batch(20)[1].tolist()

    np.random.seed(123)
    reference = first_labels()
    assert first_labels(seed=123) == reference
    assert first_labels(seed=124) != reference


def test_fake_data_needs_no_files(monkeypatch) -> None:
    monkeypatch.setattr(mnist, "load_raw", lambda *args, **kwargs: pytest.fail("fake_data read the files"))
    data = mnist.read_data_sets("/nonexistent/", fake_data=True, one_hot=True)
    assert data.train.num_examples == 10000
    images, labels = data.train.next_batch(3)
    assert images.shape == (3, 784) and (images == 1).all()
    assert labels.tolist() == [[1.0] + [0.0] * 9] * 3
    real = mnist.DataSet(np.zeros((5, 784), np.float32), np.arange(5))
    images, labels = real.next_batch(4, fake_data=True)  # TF 1.x: fake rows from any set
    assert (images == 1).all() and labels.tolist() == [0, 0, 0, 0]


def tf1_batches(n: int, sizes: list[int]) -> list[list[float]]:
    """TF 1.x's DataSet.next_batch, transcribed (tensorflow/contrib/learn/.../mnist.py)."""
    np.random.seed(7)
    labels = np.arange(float(n))
    index, epochs, out = 0, 0, []
    for batch_size in sizes:
        start = index
        if epochs == 0 and start == 0:
            perm0 = np.arange(n)
            np.random.shuffle(perm0)
            labels = labels[perm0]
        if start + batch_size > n:
            epochs += 1
            rest = n - start
            rest_part = labels[start:n]
            perm = np.arange(n)
            np.random.shuffle(perm)
            labels = labels[perm]
            index = batch_size - rest
            out.append(np.concatenate([rest_part, labels[0:index]]).tolist())
        else:
            index += batch_size
            out.append(labels[start:index].tolist())
    return out


@pytest.mark.parametrize("sizes", [[3, 3, 3, 3, 4], [25, 25, 25], [10, 10, 1, 19, 30]])
def test_next_batch_matches_tf1_even_for_batches_bigger_than_the_set(sizes: list[int]) -> None:
    np.random.seed(7)
    ds = mnist.DataSet(np.arange(10.0).reshape(10, 1), np.arange(10.0))
    assert [ds.next_batch(size)[1].tolist() for size in sizes] == tf1_batches(10, sizes)
    if sizes[0] == 25:  # documented: a batch bigger than the set comes back short
        np.random.seed(7)
        ds = mnist.DataSet(np.arange(10.0).reshape(10, 1), np.arange(10.0))
        assert [len(ds.next_batch(25)[1]) for _ in range(3)] == [20, 10, 10]


# --- every bad input: one line, naming the argument and what is allowed ---------------------------

BAD_CALLS = {
    "validation_size='5000'": ("input_data.read_data_sets('/tmp/data/', validation_size='5000')",
                               "validation_size must be a whole number from 0 to 59,999, not '5000'."),
    "validation_size=2.5": ("input_data.read_data_sets('/tmp/data/', validation_size=2.5)",
                            "validation_size must be a whole number from 0 to 59,999, not 2.5."),
    "validation_size=60000": ("input_data.read_data_sets('/tmp/data/', validation_size=60000)",
                              "validation_size must be a whole number from 0 to 59,999, not 60000."),
    "validation_size=-1": ("input_data.read_data_sets('/tmp/data/', validation_size=-1)",
                           "validation_size must be a whole number from 0 to 59,999, not -1."),
    "dtype=tf.int32": ("input_data.read_data_sets('/tmp/data/', dtype=tf.int32)",
                       "dtype must be float32 (pixels 0.0 to 1.0) or uint8 (pixels 0 to 255), as in TF 1.x, "
                       "not tf.int32."),
    "seed=-1": ("input_data.read_data_sets('/tmp/data/', seed=-1)",
                "seed must be a whole number from 0 to 4,294,967,295, not -1."),
    "train_dir=5": ("input_data.read_data_sets(5)",
                    'train_dir must be a folder name such as "/tmp/data/", not 5.'),
    "next_batch(2.5)": ("mnist.train.next_batch(2.5)", "batch_size must be a whole number of at least 1, not 2.5."),
    "next_batch(-3)": ("mnist.train.next_batch(-3)", "batch_size must be a whole number of at least 1, not -3."),
    "next_batch(0)": ("mnist.train.next_batch(0)", "batch_size must be a whole number of at least 1, not 0."),
    "next_batch('50')": ("mnist.train.next_batch('50')",
                         "batch_size must be a whole number of at least 1, not '50'."),
}


@pytest.fixture(scope="module")
def shell():
    """An IPython shell, the kernel's: shows an error the way a notebook does."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_cell("import tensorflow.compat.v1 as tf\nfrom tfbook_utils import input_data\n"
                   "mnist = input_data.read_data_sets('/tmp/data/', one_hot=True)", silent=True)
    return shell


def what_a_notebook_shows(shell, cell: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        result = shell.run_cell(cell)
    assert not result.success
    return out.getvalue()


@pytest.mark.parametrize("call, message", BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_every_bad_argument_is_one_line_in_a_notebook(shell, call: str, message: str) -> None:
    assert what_a_notebook_shows(shell, call) == f"ArgumentError: {message}\n"


def test_a_bad_argument_is_a_value_error_and_loses_nothing() -> None:
    with pytest.raises(ValueError):
        mnist.read_data_sets(validation_size="5000")

    def batches(with_a_bad_call: bool) -> list[list[float]]:
        np.random.seed(3)
        ds = mnist.DataSet(np.arange(10.0).reshape(10, 1), np.arange(10.0))
        out = [ds.next_batch(4)[1].tolist()]
        if with_a_bad_call:
            with pytest.raises(ArgumentError):
                ds.next_batch(-3)
        return out + [ds.next_batch(4)[1].tolist()]

    assert batches(with_a_bad_call=True) == batches(with_a_bad_call=False)


def test_an_empty_set_says_so_instead_of_empty_batches(shell) -> None:
    shown = what_a_notebook_shows(shell, "input_data.read_data_sets(validation_size=0).validation.next_batch(50)")
    assert shown.startswith("DataError: This data set holds no images") and shown.count("\n") == 1


# --- permissions: reported as permissions, also when the tests run as root (CI) -----------------


def test_an_unreadable_file_is_a_permission_problem_not_damage(tmp_path: Path, monkeypatch) -> None:
    folder = copy_data(tmp_path)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    real_open = gzip.open

    def open_as_without_permission(path, *args, **kwargs):
        if Path(path) == labels:  # what open() raises for a file without read permission
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(mnist.gzip, "open", open_as_without_permission)
    with pytest.raises(DataError) as caught:
        mnist.read_data_sets(folder)
    message = str(caught.value)
    assert "t10k-labels-idx1-ubyte.gz cannot be read: permission denied" in message
    assert "chmod" in message and "damaged" not in message and "Delete" not in message


def test_an_unreadable_folder_is_a_permission_problem(tmp_path: Path, monkeypatch) -> None:
    folder = copy_data(tmp_path)
    real_is_file = Path.is_file

    def is_file_without_permission(path: Path) -> bool:
        if path.parent == folder:  # stat() inside a folder without x permission
            raise PermissionError(13, "Permission denied", str(path))
        return real_is_file(path)

    monkeypatch.setattr(Path, "is_file", is_file_without_permission)
    monkeypatch.setenv("TFBOOK_DATA_DIR", str(folder))
    with pytest.raises(DataError, match=r"mnist cannot be read: permission denied\. .*chmod -R u\+rX"):
        mnist.read_data_sets()


def test_a_cache_that_cannot_be_written_is_one_clear_message(tmp_path: Path, monkeypatch) -> None:
    class Response(io.BytesIO):
        def __enter__(self):
            return self

    monkeypatch.setattr(mnist.urllib.request, "urlopen", lambda url, timeout: Response(b"data"))
    cache = tmp_path / "cache"
    cache.mkdir()
    real_write = Path.write_bytes

    def write_without_permission(path: Path, data: bytes) -> int:
        if path.parent == cache:
            raise PermissionError(13, "Permission denied", str(path))
        return real_write(path, data)

    monkeypatch.setattr(Path, "write_bytes", write_without_permission)
    with pytest.raises(DataError, match="downloaded but cannot be saved in .*Permission denied.*XDG_CACHE_HOME"):
        mnist._download("t10k-labels-idx1-ubyte.gz", cache / "t10k-labels-idx1-ubyte.gz")


def test_true_as_second_argument_keeps_tf1s_fake_data_and_says_so(monkeypatch, capsys) -> None:
    """read_data_sets('MNIST_data', True): TF 1.x's second argument is fake_data, not one_hot."""
    monkeypatch.setattr(mnist, "load_raw", lambda *args, **kwargs: pytest.fail("fake_data read the files"))
    data = mnist.read_data_sets("MNIST_data", True)
    assert data.train.num_examples == 10000 and (data.train.next_batch(2)[0] == 1).all()  # TF 1.x's meaning
    said = capsys.readouterr().out
    assert said.count("\n") == 1 and "fake_data is True" in said and "fake images" in said
    assert "read_data_sets('MNIST_data', one_hot=True)" in said
