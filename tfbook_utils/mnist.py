"""MNIST, read the way TensorFlow 1's ``input_data.read_data_sets`` did.

The lecture's notebooks started with::

    from tensorflow.examples.tutorials.mnist import input_data
    mnist = input_data.read_data_sets("/tmp/data/", one_hot=True)

TensorFlow 2 removed that module.  This file is its drop-in, with the same
arguments and the same meaning (see ``read_data_sets``); ``input_data.py``
beside it lets the slide's code run with only its import line changed::

    from tfbook_utils import input_data
    mnist = input_data.read_data_sets("/tmp/data/", one_hot=True)

The data are the four original files in the IDX format (gzip-compressed).
An IDX file is a big-endian header followed by raw bytes:

* 2 zero bytes, 1 byte for the element type (0x08 = unsigned byte) and
  1 byte for the number of dimensions;
* one 4-byte unsigned integer per dimension (60000, 28, 28 for images);
* the elements, row by row.

Each file is looked for, in order, in the folder given to ``read_data_sets``
(TF 1.x's ``train_dir``; only read, never written), the folder in the
``TFBOOK_DATA_DIR`` environment variable, the copy shipped in this
repository (``data/mnist``) and a per-user download cache (filled from
public mirrors when the shipped copy is missing).  Whatever the source, the
SHA-256 of the uncompressed content is checked before use: wrong data stops
with a message that names the file, never a silently wrong result.  A file
or folder that cannot be read stops with a message that says so.
"""

from __future__ import annotations

import gzip
import hashlib
import numbers
import operator
import os
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ArgumentError, DataError
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
TRAIN_IMAGES = 60000  # in train-images-idx3-ubyte.gz, before the validation set is split off
FAKE_EXAMPLES = 10000  # TF 1.x's size of a fake_data set


def whole_number(name: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` as an int, or an ``ArgumentError`` that names the argument
    and the allowed range.  Whole floats (``5000.0``) are accepted; text,
    ``True``/``False`` and fractions are not."""
    number = None
    if not isinstance(value, bool):
        try:
            number = operator.index(value)  # int, numpy integers
        except TypeError:
            if isinstance(value, numbers.Real) and float(value).is_integer():
                number = int(value)
    if number is None or number < low or (high is not None and number > high):
        allowed = f"from {low:,} to {high:,}" if high is not None else f"of at least {low:,}"
        raise ArgumentError(f"{name} must be a whole number {allowed}, not {value!r}.")
    return number


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

    def _fake_batch(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """TF 1.x's fake rows: images of all ones, every label the digit 0,
        in this set's shape and type."""
        image = np.ones(self._images.shape[1:], self._images.dtype)
        label = np.eye(10, dtype=self._labels.dtype)[0] if self._labels.ndim == 2 else self._labels.dtype.type(0)
        return np.stack([image] * batch_size), np.stack([label] * batch_size)

    def next_batch(
        self, batch_size: int, fake_data: bool = False, shuffle: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the next ``batch_size`` images and labels.

        As in TF 1.x: ``fake_data=True`` returns fake rows (all ones, labelled 0);
        ``shuffle=False`` keeps the file's order.  A batch larger than the
        whole set comes back short, as it did in TF 1.x: the rest of the
        epoch plus at most one whole epoch (``next_batch(25)`` on 10 images
        returns 20 rows, then 10 per call).
        """
        batch_size = whole_number("batch_size", batch_size, 1)
        if fake_data:
            return self._fake_batch(batch_size)
        if self.num_examples == 0:
            raise DataError(
                "This data set holds no images, so next_batch has nothing to return "
                "(read_data_sets(..., validation_size=0) leaves the validation set empty)."
            )
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


def _permission_error(where: Path) -> DataError:
    return DataError(
        f"{display_path(where)} cannot be read: permission denied. Make it readable for your user "
        f"(for example `chmod -R u+rX {display_path(where)}`), or use another folder."
    )


def _candidate_dirs(train_dir: str | os.PathLike | None) -> list[Path]:
    dirs = [Path(train_dir)] if train_dir is not None else []
    if os.environ.get("TFBOOK_DATA_DIR"):
        dirs.append(Path(os.environ["TFBOOK_DATA_DIR"]))
    return dirs + [DATA_DIR / "mnist", cache_dir() / "mnist"]


def _download(name: str, target: Path, mirrors: tuple[str, ...] = MIRRORS) -> None:
    """Fetch one file from the first public mirror that answers."""
    errors = []
    for mirror in mirrors:
        try:
            with urllib.request.urlopen(mirror + name, timeout=DOWNLOAD_TIMEOUT_S) as r:
                data = r.read()
        except OSError as error:
            errors.append(f"{mirror}: {error}")
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".part")
            partial.write_bytes(data)
            partial.replace(target)
        except OSError as error:
            raise DataError(
                f"MNIST file {name} was downloaded but cannot be saved in {display_path(target.parent)} "
                f"({error.strerror}). Make that folder writable, or set XDG_CACHE_HOME to a folder of your own."
            ) from None
        return
    raise DataError(
        f"MNIST file {name} is not on this machine and could not be downloaded "
        f"({'; '.join(errors)}). Copy the four MNIST files into a folder and set "
        "TFBOOK_DATA_DIR to it, or restore data/mnist/ with `git checkout data/mnist`."
    )


def _find(name: str, dirs: list[Path], download: bool, mirrors: tuple[str, ...] = MIRRORS) -> Path:
    for folder in dirs:
        try:
            if (folder / name).is_file():
                return folder / name
        except PermissionError:  # a folder we may not look into
            raise _permission_error(folder) from None
    if download and dirs[-1] == cache_dir() / "mnist":
        _download(name, dirs[-1] / name, mirrors)
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
    except PermissionError:
        raise _permission_error(path) from None
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
    train_dir: str | os.PathLike | None = None, download: bool = True, source_url: str | None = None
) -> dict[str, np.ndarray]:
    """The four MNIST arrays as uint8, keyed by file name without ``.gz``."""
    dirs = _candidate_dirs(train_dir)
    mirrors = (source_url, *MIRRORS) if source_url else MIRRORS
    return {
        name.removesuffix(".gz"): read_idx(_find(name, dirs, download, mirrors), sha)
        for name, sha in FILES.items()
    }


def _image_dtype(dtype: object) -> np.dtype:
    """float32 or uint8, given as NumPy or TensorFlow spells them
    (``np.float32``, ``'float32'``, ``tf.float32``)."""
    try:
        wanted = np.dtype(getattr(dtype, "as_numpy_dtype", dtype))  # a tf.DType knows its NumPy twin
    except TypeError:
        wanted = None
    if wanted not in (np.dtype(np.float32), np.dtype(np.uint8)):
        raise ArgumentError(
            f"dtype must be float32 (pixels 0.0 to 1.0) or uint8 (pixels 0 to 255), as in TF 1.x, not {dtype!r}."
        )
    return wanted


def _to_dataset(images: np.ndarray, labels: np.ndarray, one_hot: bool, dtype: np.dtype, reshape: bool) -> DataSet:
    shape = (len(images), 28 * 28) if reshape else (len(images), 28, 28, 1)
    if dtype == np.float32:
        # pixel / 255 in float32 in one pass: the same values as
        # astype(np.float32) / 255.0, without its second 170 MB temporary array
        pixels = np.divide(images.reshape(shape), np.float32(255.0), dtype=np.float32)
    else:
        pixels = images.reshape(shape)
    if one_hot:
        targets = np.eye(10, dtype=np.float32)[labels]
    else:
        targets = labels.astype(np.int64)
    return DataSet(pixels, targets)


def _fake_dataset(one_hot: bool, dtype: np.dtype, reshape: bool) -> DataSet:
    """TF 1.x's ``fake_data``: 10,000 images of all ones labelled 0, made
    without the files (broadcast views: no memory for the rows)."""
    image = np.ones(28 * 28 if reshape else (28, 28, 1), dtype)
    label = np.eye(10, dtype=np.float32)[0] if one_hot else np.int64(0)
    return DataSet(
        np.broadcast_to(image, (FAKE_EXAMPLES, *image.shape)),
        np.broadcast_to(label, (FAKE_EXAMPLES, *np.shape(label))),
    )


def read_data_sets(
    train_dir: str | os.PathLike | None = None,
    fake_data: bool = False,
    one_hot: bool = False,
    dtype: object = np.float32,
    reshape: bool = True,
    validation_size: int = 5000,
    seed: int | None = None,
    source_url: str | None = None,
    *,
    download: bool = True,
) -> Datasets:
    """MNIST split as in TF 1.x: the first ``validation_size`` training images
    are the validation set (not shuffled), the rest the training set.

    The arguments are TF 1.x's, with TF 1.x's meaning and defaults:

    * ``train_dir`` -- a folder that may hold the four MNIST files (the
      slides' ``"/tmp/data/"``).  TF 1.x downloaded into it; here it is only
      read, and the shipped copy is used for every file it lacks.
    * ``one_hot`` -- labels as one-hot float32 vectors (the lecture passes
      True), else integer class ids.
    * ``dtype`` -- float32: pixels / 255 in [0, 1]; uint8: pixels 0..255.
    * ``reshape`` -- images as N x 784 rows; False: N x 28 x 28 x 1.
    * ``validation_size`` -- 0 to 59,999 images kept back for validation.
    * ``seed`` -- passed to ``np.random.seed``, the generator ``next_batch``
      shuffles with.  ``None`` leaves it as the notebook seeded it (TF 1.x
      from version 1.1 reseeded it from the graph seed, which made an
      ``np.random.seed`` above the call pointless).
    * ``fake_data`` -- 10,000 images of all ones labelled 0, without files
      (and one line saying so: ``read_data_sets(path, True)`` sets it).
    * ``source_url`` -- a mirror to try first if a file must be downloaded.

    ``download=False`` (not in TF 1.x) never touches the network.
    """
    if train_dir is not None and not isinstance(train_dir, (str, os.PathLike)):
        raise ArgumentError(f"train_dir must be a folder name such as \"/tmp/data/\", not {train_dir!r}.")
    image_dtype = _image_dtype(dtype)
    v = whole_number("validation_size", validation_size, 0, TRAIN_IMAGES - 1)
    if seed is not None:
        np.random.seed(whole_number("seed", seed, 0, 2**32 - 1))
    if fake_data:
        # TF 1.x's meaning is kept, but said: read_data_sets("MNIST_data", True) is easily
        # written for one_hot=True, and fake data train nothing.
        real = f"read_data_sets({'' if train_dir is None else repr(os.fspath(train_dir)) + ', '}one_hot=True)"
        print(f"fake_data is True (in TF 1.x's order it is the second argument), so every set is "
              f"{FAKE_EXAMPLES:,} fake images (all ones) labelled 0, not MNIST's digits; for the digits write {real}.")

        def fake() -> DataSet:
            return _fake_dataset(one_hot, image_dtype, reshape)

        return Datasets(train=fake(), validation=fake(), test=fake())
    raw = load_raw(train_dir, download, source_url)
    train_images, train_labels = raw["train-images-idx3-ubyte"], raw["train-labels-idx1-ubyte"]

    def split(images: np.ndarray, labels: np.ndarray) -> DataSet:
        return _to_dataset(images, labels, one_hot, image_dtype, reshape)

    return Datasets(
        train=split(train_images[v:], train_labels[v:]),
        validation=split(train_images[:v], train_labels[:v]),
        test=split(raw["t10k-images-idx3-ubyte"], raw["t10k-labels-idx1-ubyte"]),
    )


if __name__ == "__main__":
    # `python -m tfbook_utils.mnist` checks the data a notebook would load.
    mnist = read_data_sets(one_hot=True)
    for split in ("train", "validation", "test"):
        print(f"{split:10s} {getattr(mnist, split).num_examples:6d} images: OK")
