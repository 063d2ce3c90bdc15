"""MNIST, read the way TensorFlow 1's ``input_data.read_data_sets`` did.

The lecture's notebooks started with::

    from tensorflow.examples.tutorials.mnist import input_data
    mnist = input_data.read_data_sets("/tmp/data/", one_hot=True)

TensorFlow 2 removed that module, so this file is its drop-in::

    from tfbook_utils.mnist import read_data_sets
    mnist = read_data_sets(one_hot=True)

The data are the four original files in the IDX format (gzip-compressed).
An IDX file is a big-endian header followed by raw bytes:

* 2 zero bytes, 1 byte for the element type (0x08 = unsigned byte) and
  1 byte for the number of dimensions;
* one 4-byte unsigned integer per dimension (60000, 28, 28 for images);
* the elements, row by row.

Files are looked for, in order, in the ``data_dir`` argument, the folder in
the ``TFBOOK_DATA_DIR`` environment variable, the copy shipped in this
repository (``data/mnist``) and a per-user download cache (filled from public
mirrors when the shipped copy is missing).  Whatever the source, the
SHA-256 of the uncompressed content is checked before use: wrong data stops
with a message that names the file, never a silently wrong result.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError
from .paths import DATA_DIR, cache_dir, display_path

# SHA-256 of the *uncompressed* IDX content (see data/mnist/README.md).
FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
DOWNLOAD_TIMEOUT_S = 20


class DataSet:
    """One split (train, validation or test) with TF 1.x ``next_batch``.

    ``next_batch`` shuffles at the start of every epoch with numpy's global
    generator, so ``np.random.seed(...)`` at the top of a notebook makes the
    batches repeatable.  A batch that runs past the end of an epoch is
    completed from the start of the next one, exactly as in TF 1.x.  Only
    the rows of the batch are copied: the shuffle permutes an index array,
    not the 172 MB of training images.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self._images = images
        self._labels = labels
        self._order = np.arange(len(images))
        self._index_in_epoch = 0
        self._epochs_completed = 0

    @property
    def images(self) -> np.ndarray:
        return self._images

    @property
    def labels(self) -> np.ndarray:
        return self._labels

    @property
    def num_examples(self) -> int:
        return len(self._images)

    @property
    def epochs_completed(self) -> int:
        return self._epochs_completed

    def _shuffle(self) -> None:
        perm = np.arange(self.num_examples)
        np.random.shuffle(perm)
        self._order = self._order[perm]

    def _rows(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        index = self._order[start:end]
        return self._images[index], self._labels[index]

    def next_batch(
        self, batch_size: int, shuffle: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the next ``batch_size`` images and labels."""
        start = self._index_in_epoch
        if self._epochs_completed == 0 and start == 0 and shuffle:
            self._shuffle()
        if start + batch_size <= self.num_examples:
            self._index_in_epoch = start + batch_size
            return self._rows(start, self._index_in_epoch)
        # The batch crosses the end of the epoch: take the rest of this
        # epoch, reshuffle, and fill up from the start of the next one.
        self._epochs_completed += 1
        rest_images, rest_labels = self._rows(start, self.num_examples)
        if shuffle:
            self._shuffle()
        self._index_in_epoch = batch_size - len(rest_images)
        new_images, new_labels = self._rows(0, self._index_in_epoch)
        return (
            np.concatenate([rest_images, new_images]),
            np.concatenate([rest_labels, new_labels]),
        )


@dataclass
class Datasets:
    train: DataSet
    validation: DataSet
    test: DataSet


def _candidate_dirs(data_dir: str | os.PathLike | None) -> list[Path]:
    if data_dir is not None:
        return [Path(data_dir)]
    dirs = []
    if os.environ.get("TFBOOK_DATA_DIR"):
        dirs.append(Path(os.environ["TFBOOK_DATA_DIR"]))
    dirs += [DATA_DIR / "mnist", cache_dir() / "mnist"]
    return dirs


def _download(name: str, target: Path) -> None:
    """Fetch one file from the first public mirror that answers."""
    target.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for mirror in MIRRORS:
        try:
            with urllib.request.urlopen(mirror + name, timeout=DOWNLOAD_TIMEOUT_S) as r:
                data = r.read()
        except OSError as error:
            errors.append(f"{mirror}: {error}")
            continue
        partial = target.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(target)
        return
    raise DataError(
        f"MNIST file {name} is not on this machine and could not be downloaded "
        f"({'; '.join(errors)}). Copy the four MNIST files into a folder and set "
        "TFBOOK_DATA_DIR to it, or restore data/mnist/ with `git checkout data/mnist`."
    )


def _find(name: str, dirs: list[Path], download: bool) -> Path:
    for folder in dirs:
        if (folder / name).is_file():
            return folder / name
    if download and dirs[-1] == cache_dir() / "mnist":
        _download(name, dirs[-1] / name)
        return dirs[-1] / name
    looked = ", ".join(display_path(d) for d in dirs)
    raise DataError(
        f"MNIST file {name} was not found (looked in: {looked}). "
        "Restore the shipped copy with `git checkout data/mnist`, or set "
        "TFBOOK_DATA_DIR to a folder that holds the four MNIST files."
    )


def read_idx(path: Path, expected_sha256: str | None = None) -> np.ndarray:
    """Read one gzip-compressed IDX file into a uint8 array, checking its
    uncompressed SHA-256 when one is given."""
    where = display_path(path)
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(
            f"{where} is damaged and cannot be decompressed ({error}). "
            "Delete it and restore it with `git checkout data/mnist` (or copy it again)."
        ) from None
    if expected_sha256 and hashlib.sha256(raw).hexdigest() != expected_sha256:
        raise DataError(
            f"{where} does not have the expected content (SHA-256 mismatch): "
            "it is corrupt or not the MNIST file of that name. Delete it and "
            "restore it with `git checkout data/mnist` (or copy it again)."
        )
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{where} is not an IDX file of unsigned bytes.")
    ndim = raw[3]
    shape = tuple(int(n) for n in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    body = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise DataError(f"{where} is truncated: header says {shape}, found {body.size} bytes.")
    return body.reshape(shape)


def load_raw(
    data_dir: str | os.PathLike | None = None, download: bool = True
) -> dict[str, np.ndarray]:
    """The four MNIST arrays as uint8, keyed by file name without ``.gz``."""
    dirs = _candidate_dirs(data_dir)
    return {
        name.removesuffix(".gz"): read_idx(_find(name, dirs, download), sha)
        for name, sha in FILES.items()
    }


def _to_dataset(images: np.ndarray, labels: np.ndarray, one_hot: bool) -> DataSet:
    # pixel / 255 in float32 in one pass: the same values as
    # astype(np.float32) / 255.0, without its second 170 MB temporary array
    flat = np.divide(images.reshape(len(images), 28 * 28), np.float32(255.0), dtype=np.float32)
    if one_hot:
        targets = np.eye(10, dtype=np.float32)[labels]
    else:
        targets = labels.astype(np.int64)
    return DataSet(flat, targets)


def read_data_sets(
    data_dir: str | os.PathLike | None = None,
    one_hot: bool = True,
    validation_size: int = 5000,
    download: bool = True,
) -> Datasets:
    """MNIST split as in TF 1.x: the first ``validation_size`` training images
    are the validation set (not shuffled), the rest the training set.

    Images are N x 784 float32 in [0, 1] (pixel / 255); labels are one-hot
    float32 vectors, or integer class ids when ``one_hot=False``.
    """
    raw = load_raw(data_dir, download)
    train_images, train_labels = raw["train-images-idx3-ubyte"], raw["train-labels-idx1-ubyte"]
    if not 0 <= validation_size <= len(train_images):
        raise ValueError(f"validation_size must be between 0 and {len(train_images)}")
    v = validation_size
    return Datasets(
        train=_to_dataset(train_images[v:], train_labels[v:], one_hot),
        validation=_to_dataset(train_images[:v], train_labels[:v], one_hot),
        test=_to_dataset(raw["t10k-images-idx3-ubyte"], raw["t10k-labels-idx1-ubyte"], one_hot),
    )


if __name__ == "__main__":
    # `python -m tfbook_utils.mnist` checks the data a notebook would load.
    mnist = read_data_sets()
    for split in ("train", "validation", "test"):
        print(f"{split:10s} {getattr(mnist, split).num_examples:6d} images: OK")
