"""CIFAR-10's test set in its binary version, for the CIFAR-10 notebook of Chapter05.

CIFAR-10 is 60,000 colour photos of 32 x 32 pixels in ten classes
(``CLASS_NAMES``).  Its binary version, ``cifar-10-binary.tar.gz`` (162 MB),
holds six files of 10,000 records each; every record is 3,073 bytes:

* 1 byte: the label, 0..9;
* 3,072 bytes: the image "depth-major": the 1,024 red values (32 rows of
  32), then the 1,024 green, then the 1,024 blue.  Reshaped to
  [3, 32, 32] and transposed to [32, 32, 3] it is the usual height x
  width x colour array that ``imshow`` draws.

There is no header, so TensorFlow reads the file as fixed-length records
(``tf.data.FixedLengthRecordDataset``, the successor of TF 1's
``FixedLengthRecordReader`` and its filename queue).

The data do not ship with this repository.  ``load_test_batch()`` downloads
the archive once into the per-user cache, with a progress bar (tqdm: a
widget in Jupyter, a line of text in a terminal or a log), checks it
against the MD5 that the dataset's page publishes and the SHA-256 that
TensorFlow Datasets records, keeps only ``test_batch.bin`` (the notebook
needs no more) and deletes the archive to give the 162 MB back.  Without
internet it prints one line and offers a stand-in: a photo shipped with
matplotlib, shrunk to 32 x 32 and written in the same record format, so
every later cell of the notebook runs unchanged.
"""

from __future__ import annotations

import http.client
import os
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import tensorflow.compat.v1 as tf
from tqdm.auto import tqdm

from .errors import DataError
from .paths import cache_dir, display_path, file_digest

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
ARCHIVE_NAME = "cifar-10-binary.tar.gz"
ARCHIVE_SIZE = 170_052_171
# Published on https://www.cs.toronto.edu/~kriz/cifar.html (binary version).
ARCHIVE_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
# Recorded by TensorFlow Datasets (tensorflow_datasets/url_checksums/cifar10.txt).
ARCHIVE_SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
TEST_BATCH_MEMBER = "cifar-10-batches-bin/test_batch.bin"
TEST_BATCH_SHA256 = "8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b"
# A slow link may pause; 30 s of silence means it is gone.
DOWNLOAD_TIMEOUT_S = 30

CLASS_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
LABEL_BYTES = 1
HEIGHT, WIDTH, DEPTH = 32, 32, 3
IMAGE_BYTES = HEIGHT * WIDTH * DEPTH
RECORD_BYTES = LABEL_BYTES + IMAGE_BYTES
SAMPLE_PHOTO = "grace_hopper.jpg"  # matplotlib's sample data, the offline stand-in
SAMPLE_CLASS_NAMES = ("photo",)


def cifar10_dir() -> Path:
    """Where the download is kept: ``~/.cache/tfbook/cifar10`` by default."""
    return cache_dir() / "cifar10"


def verify_archive(path: Path) -> None:
    """Stop with a ``DataError`` unless ``path`` is exactly the published archive.

    A cut-off download, a proxy's error page saved under the archive's name
    or a changed file on the server would otherwise surface later as
    nonsense images, or as an error deep inside TensorFlow.
    """
    if (file_digest(path, "md5"), file_digest(path)) != (ARCHIVE_MD5, ARCHIVE_SHA256):
        raise DataError(
            f"{display_path(path)} is not the published CIFAR-10 archive (checksum mismatch, "
            f"{path.stat().st_size:,} bytes instead of {ARCHIVE_SIZE:,}): the download is "
            "incomplete or corrupt."
        )


def download_archive(url: str, target: Path, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Fetch ``url`` into ``target`` through a ``.part`` file, so an
    interrupted download never looks like a complete one.

    A progress bar counts the bytes: at 1 MB/s the 162 MB take minutes, and
    a cell that prints nothing for that long looks stuck.  tqdm draws it as
    a widget in Jupyter and as text on stdout elsewhere (never on stderr,
    which the course's notebook checks treat as an error).

    Network trouble (no connection, a refused or timed-out connection, an
    HTTP error) becomes a ``DataError`` whose message says what happened.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            host = urllib.parse.urlsplit(url).netloc
            print(f"Downloading CIFAR-10 ({ARCHIVE_SIZE / 2**20:.0f} MB) from {host} ...", flush=True)
            size = int(response.headers.get("Content-Length") or ARCHIVE_SIZE)
            with (
                open(partial, "wb") as f,
                tqdm(total=size, desc=ARCHIVE_NAME, unit="B", unit_scale=True, unit_divisor=1024,
                     file=sys.stdout, mininterval=0.5) as progress,
            ):
                while chunk := response.read(1 << 20):
                    f.write(chunk)
                    progress.update(len(chunk))
    except (OSError, http.client.HTTPException) as error:
        partial.unlink(missing_ok=True)
        # URLError wraps the socket's error ("Name or service not known"); HTTPError says its status.
        reason = error if isinstance(error, urllib.error.HTTPError) else getattr(error, "reason", error)
        raise DataError(f"CIFAR-10 could not be downloaded ({reason})") from None
    partial.replace(target)


def extract_test_batch(archive: Path, target: Path) -> None:
    """Copy ``test_batch.bin`` out of the archive, checking its SHA-256."""
    partial = target.with_name(target.name + ".part")
    try:
        with tarfile.open(archive, "r:gz") as tar, tar.extractfile(TEST_BATCH_MEMBER) as member:
            partial.write_bytes(member.read())
    except (OSError, KeyError, tarfile.TarError) as error:
        partial.unlink(missing_ok=True)
        raise DataError(
            f"{display_path(archive)} cannot be unpacked ({error}). Delete it and run the cell again."
        ) from None
    if file_digest(partial) != TEST_BATCH_SHA256:
        partial.unlink()
        raise DataError(f"test_batch.bin in {display_path(archive)} is not the published one (SHA-256).")
    partial.replace(target)


def find_test_batch(url: str = URL, folder: Path | None = None, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """``test_batch.bin``, downloaded and checked on first use.

    Set the environment variable ``TFBOOK_OFFLINE=1`` to never download
    (a file already in the cache is still used).
    """
    folder = folder or cifar10_dir()
    target = folder / "test_batch.bin"
    if target.is_file() and file_digest(target) == TEST_BATCH_SHA256:
        return target
    if os.environ.get("TFBOOK_OFFLINE") == "1":
        raise DataError("CIFAR-10 is not in the cache and TFBOOK_OFFLINE=1 forbids downloading it")
    archive = folder / ARCHIVE_NAME
    if not archive.is_file():
        download_archive(url, archive, timeout)
    try:
        verify_archive(archive)
    except DataError as error:
        archive.unlink()  # never keep a bad archive: the next run downloads afresh
        raise DataError(f"{error} It was deleted; run the cell again to download it afresh.") from None
    extract_test_batch(archive, target)
    archive.unlink()  # only test_batch.bin is needed; give the 162 MB back
    return target


def sample_photo(size: int = HEIGHT) -> np.ndarray:
    """matplotlib's Grace Hopper photo, cropped square and shrunk to
    ``size`` x ``size`` x 3 uint8: a colour image that is on every machine."""
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data(SAMPLE_PHOTO) as f, Image.open(f) as photo:
        photo = photo.convert("RGB")
        side = min(photo.size)
        left, top = (photo.width - side) // 2, (photo.height - side) // 2
        square = photo.crop((left, top, left + side, top + side))
        return np.asarray(square.resize((size, size), Image.Resampling.LANCZOS), dtype=np.uint8)


def write_records(path: Path, labels: np.ndarray, images: np.ndarray) -> None:
    """Write ``images`` (N x 32 x 32 x 3 uint8) with ``labels`` in CIFAR-10's
    binary record format: label byte, then the image depth-major."""
    images = np.asarray(images, dtype=np.uint8)
    depth_major = images.transpose(0, 3, 1, 2).reshape(len(images), IMAGE_BYTES)
    records = np.concatenate([np.asarray(labels, dtype=np.uint8).reshape(-1, 1), depth_major], axis=1)
    path.write_bytes(records.tobytes())


def show_sample_photo() -> None:
    """Draw the stand-in at full size beside its 32 x 32 version, so the
    tiny images of the later cells can be recognised."""
    import matplotlib.pyplot as plt
    from matplotlib import cbook

    with cbook.get_sample_data(SAMPLE_PHOTO) as f:
        full = plt.imread(f, format="jpg")
    fig = plt.figure(figsize=(4.5, 2.6))
    for index, (image, title) in enumerate(
        [(full, f"{SAMPLE_PHOTO} ({full.shape[1]}x{full.shape[0]})"), (sample_photo(), "32x32, as stored")]
    ):
        subplot = fig.add_subplot(1, 2, index + 1)
        subplot.set_xticks([])
        subplot.set_yticks([])
        subplot.set_title(title, fontsize=9)
        subplot.imshow(image, interpolation="nearest")


def _sample_batch(folder: Path) -> Path:
    """The sample photo as a one-record file in CIFAR-10's format (label 0)."""
    for place in (folder, Path(tempfile.gettempdir())):
        try:
            place.mkdir(parents=True, exist_ok=True)
            path = place / "sample_photo.bin"
            write_records(path, np.array([0]), sample_photo()[None])
            return path
        except OSError:
            continue
    raise DataError("Cannot write the sample photo: neither the cache nor the temporary folder is writable.")


def load_test_batch(
    url: str = URL, folder: Path | None = None, show: bool = True
) -> tuple[str, tuple[str, ...]]:
    """The notebook's data: ``(filename, class_names)``.

    Normally ``test_batch.bin`` and the ten CIFAR-10 class names.  When the
    data cannot be had (offline, a corrupt download), one printed line says
    so and the stand-in comes back instead: a one-record file of the sample
    photo in the same format, with the single class name ``"photo"``, and
    (``show``) a figure of the photo.  The lecture's cells then run
    unchanged on it.
    """
    folder = folder or cifar10_dir()
    try:
        path = find_test_batch(url, folder)
    except DataError as error:
        print(f"{str(error).rstrip('.')}. Working offline: the cells below read matplotlib's "
              f"sample photo {SAMPLE_PHOTO}, shrunk to 32x32 and stored in the same record format.")
        filename = str(_sample_batch(folder))
        if show:
            show_sample_photo()
        return filename, SAMPLE_CLASS_NAMES
    count = path.stat().st_size // RECORD_BYTES
    print(f"CIFAR-10 test set: {count:,} images in {display_path(path)}")
    return str(path), CLASS_NAMES


def read_cifar10(filename: str) -> tf.data.Dataset:
    """(label, uint8image) pairs from a file of CIFAR-10 records.

    The same function as the notebook's first [CDS-04] (a test checks that
    the two agree): the label byte as int32, the image rearranged from
    depth-major [3, 32, 32] to [32, 32, 3].
    """
    label_bytes = LABEL_BYTES
    height, width, depth = HEIGHT, WIDTH, DEPTH
    image_bytes = height * width * depth
    record_bytes = label_bytes + image_bytes

    def parse(value):
        record = tf.io.decode_raw(value, tf.uint8)
        label = tf.cast(tf.slice(record, [0], [label_bytes]), tf.int32)[0]
        depth_major = tf.reshape(tf.slice(record, [label_bytes], [image_bytes]), [depth, height, width])
        # The lecture wrote tf.transpose(depth_major, [1, 2, 0]). Stacking the three colour
        # planes along the last axis gives the same array; transposing uint8 itself makes
        # TF 2.21 print a oneDNN error line on CPUs without AVX-512.
        red, green, blue = tf.unstack(depth_major)
        uint8image = tf.stack([red, green, blue], axis=2)
        return label, uint8image

    return tf.data.FixedLengthRecordDataset(filename, record_bytes).map(parse)
