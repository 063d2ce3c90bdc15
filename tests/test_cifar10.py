"""CIFAR-10: the record reader, the checksums and the offline fallback.

Nothing here needs the internet: the records are written by the tests in
CIFAR-10's binary format, "downloads" come from a server on the loopback
interface, and the offline case points at a port where nothing listens.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import socket
import tarfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import nbformat
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from course_tools import catalog
from tfbook_utils import cifar10
from tfbook_utils.errors import DataError
from tfbook_utils.paths import REPO_ROOT

NOTEBOOK = catalog.by_tag("CDS").path
UNREACHABLE = "http://127.0.0.1:9/cifar-10-binary.tar.gz"  # the discard port: nothing listens


def depth_major_records(labels: np.ndarray, planes: np.ndarray) -> bytes:
    """CIFAR-10 records built byte by byte, independently of tfbook_utils:
    the label, then the red plane row by row, then green, then blue."""
    out = bytearray()
    for label, image in zip(labels, planes, strict=True):  # image: [3, 32, 32]
        out.append(int(label))
        for channel in range(3):
            for row in range(32):
                out.extend(image[channel, row].tobytes())
    return bytes(out)


@pytest.fixture
def twenty_records(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """20 records with known labels and random pixels; returns the file,
    the labels and the images as [height, width, colour]."""
    rng = np.random.default_rng(20160704)
    labels = (np.arange(20) * 7) % 10
    planes = rng.integers(0, 256, size=(20, 3, 32, 32), dtype=np.uint8)
    path = tmp_path / "twenty.bin"
    path.write_bytes(depth_major_records(labels, planes))
    assert path.stat().st_size == 20 * cifar10.RECORD_BYTES
    return path, labels, planes.transpose(0, 2, 3, 1)


def read_all(dataset_factory, filename: str) -> tuple[np.ndarray, np.ndarray]:
    """Every (label, image) of the file, read in graph mode as the notebook does."""
    labels, images = [], []
    with tf.Graph().as_default(), tf.Session() as sess:
        label, image = tf.data.make_one_shot_iterator(dataset_factory(filename)).get_next()
        assert label.dtype == tf.int32 and image.dtype == tf.uint8
        assert image.shape.as_list() == [32, 32, 3]
        while True:
            try:
                label_val, image_val = sess.run([label, image])
            except tf.errors.OutOfRangeError:
                break
            labels.append(label_val)
            images.append(image_val)
    return np.array(labels), np.array(images)


def test_reader_decodes_labels_and_depth_major_pixels(twenty_records) -> None:
    path, labels, images = twenty_records
    got_labels, got_images = read_all(cifar10.read_cifar10, str(path))
    assert got_labels.tolist() == labels.tolist()
    np.testing.assert_array_equal(got_images, images)
    # One pixel by hand: row 5, column 17, green is byte 1 + 1024 + 5 * 32 + 17 of record 3.
    raw = path.read_bytes()[3 * cifar10.RECORD_BYTES:4 * cifar10.RECORD_BYTES]
    assert got_images[3, 5, 17, 1] == raw[1 + 1024 + 5 * 32 + 17]
    # A plain reshape (no rearranging) would give other images.
    assert not np.array_equal(got_images[0], np.frombuffer(raw[1:], np.uint8).reshape(32, 32, 3))


def notebook_cell(tag: str) -> str:
    """The code cell that follows the markdown cell starting with **[tag]**."""
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    for index, cell in enumerate(cells):
        if cell.cell_type == "markdown" and cell.source.startswith(f"**[{tag}]**"):
            return cells[index + 1].source
    raise AssertionError(f"no {tag} in {NOTEBOOK.name}")


def test_the_notebooks_reader_decodes_the_same(twenty_records) -> None:
    """The first [CDS-04] is the lecture-visible twin of cifar10.read_cifar10."""
    path, labels, images = twenty_records
    namespace: dict = {"tf": tf}
    exec(notebook_cell("CDS-04"), namespace)
    got_labels, got_images = read_all(namespace["read_cifar10"], str(path))
    assert got_labels.tolist() == labels.tolist()
    np.testing.assert_array_equal(got_images, images)


def test_write_records_round_trips(tmp_path: Path, twenty_records) -> None:
    _, labels, images = twenty_records
    path = tmp_path / "written.bin"
    cifar10.write_records(path, labels, images)
    assert path.read_bytes() == depth_major_records(labels, images.transpose(0, 3, 1, 2))


def test_checksum_rejects_a_corrupt_archive(tmp_path: Path) -> None:
    archive = tmp_path / cifar10.ARCHIVE_NAME
    archive.write_bytes(b"<html>captive portal</html>")
    with pytest.raises(DataError, match="not the published CIFAR-10 archive") as caught:
        cifar10.verify_archive(archive)
    message = str(caught.value)
    assert "checksum mismatch" in message and "incomplete or corrupt" in message
    assert "27 bytes instead of 170,052,171" in message


def test_a_corrupt_archive_in_the_cache_is_deleted(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("TFBOOK_OFFLINE", raising=False)
    (tmp_path / cifar10.ARCHIVE_NAME).write_bytes(b"\x1f\x8b truncated")
    filename, class_names = cifar10.load_test_batch(UNREACHABLE, tmp_path, show=False)
    assert class_names == cifar10.SAMPLE_CLASS_NAMES
    assert not (tmp_path / cifar10.ARCHIVE_NAME).exists()
    out, err = capsys.readouterr()
    assert err == "" and out.count("\n") == 1
    assert "checksum mismatch" in out and "It was deleted" in out and "Working offline" in out


def test_offline_prints_one_line_and_falls_back_to_the_sample_photo(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("TFBOOK_OFFLINE", raising=False)
    filename, class_names = cifar10.load_test_batch(UNREACHABLE, tmp_path, show=False)
    out, err = capsys.readouterr()
    assert err == ""
    assert out.count("\n") == 1 and out.startswith("CIFAR-10 could not be downloaded (")
    assert "Working offline" in out and "Traceback" not in out
    assert class_names == ("photo",)
    assert list(tmp_path.iterdir()) == [Path(filename)]  # no partial download left behind
    labels, images = read_all(cifar10.read_cifar10, filename)
    assert labels.tolist() == [0]
    np.testing.assert_array_equal(images[0], cifar10.sample_photo())


def test_a_silent_server_times_out(tmp_path: Path) -> None:
    with socket.socket() as server:  # accepts connections (backlog) but never answers
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        url = f"http://127.0.0.1:{server.getsockname()[1]}/cifar-10-binary.tar.gz"
        with pytest.raises(DataError, match=r"could not be downloaded \(.*timed out"):
            cifar10.download_archive(url, tmp_path / cifar10.ARCHIVE_NAME, timeout=0.5)
    assert list(tmp_path.iterdir()) == []


def test_tfbook_offline_never_touches_the_network(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TFBOOK_OFFLINE", "1")

    def no_network(*args, **kwargs):
        raise AssertionError("urlopen called although TFBOOK_OFFLINE=1")

    monkeypatch.setattr(cifar10.urllib.request, "urlopen", no_network)
    _, class_names = cifar10.load_test_batch(cifar10.URL, tmp_path, show=False)
    assert class_names == ("photo",)
    assert "TFBOOK_OFFLINE=1" in capsys.readouterr().out


@pytest.fixture
def archive_server(tmp_path: Path, twenty_records, monkeypatch) -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server with a small archive laid out like the real
    one; the module's checksums are pointed at it.  Yields the URL and the
    list of requested paths."""
    path, _, _ = twenty_records
    served = tmp_path / "served"
    served.mkdir()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(path, arcname=cifar10.TEST_BATCH_MEMBER)
        info = tarfile.TarInfo("cifar-10-batches-bin/batches.meta.txt")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"cat\n"))
    archive = buffer.getvalue()
    (served / cifar10.ARCHIVE_NAME).write_bytes(archive)
    monkeypatch.setattr(cifar10, "ARCHIVE_MD5", hashlib.md5(archive).hexdigest())
    monkeypatch.setattr(cifar10, "ARCHIVE_SHA256", hashlib.sha256(archive).hexdigest())
    monkeypatch.setattr(cifar10, "TEST_BATCH_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    monkeypatch.delenv("TFBOOK_OFFLINE", raising=False)
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args) -> None:  # keep stderr clean
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=served))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{cifar10.ARCHIVE_NAME}", requests
    finally:
        server.shutdown()
        server.server_close()


def test_download_verify_extract_then_use_the_cache(tmp_path: Path, archive_server, twenty_records, capsys) -> None:
    url, requests = archive_server
    cache = tmp_path / "cache"
    filename, class_names = cifar10.load_test_batch(url, cache, show=False)
    assert class_names == cifar10.CLASS_NAMES
    assert sorted(p.name for p in cache.iterdir()) == ["test_batch.bin"]  # archive given back
    assert Path(filename).read_bytes() == twenty_records[0].read_bytes()
    out, err = capsys.readouterr()
    assert err == ""  # the progress bar, as text outside Jupyter, goes to stdout
    lines = out.splitlines()  # the bar redraws itself with carriage returns: each redraw is a "line"
    assert lines[0].startswith("Downloading CIFAR-10 (162 MB) from 127.0.0.1:")
    size = len((tmp_path / "served" / cifar10.ARCHIVE_NAME).read_bytes())
    assert any(line.startswith(f"{cifar10.ARCHIVE_NAME}: 100%") and f"{size / 1024:.1f}k/{size / 1024:.1f}k" in line
               for line in lines), out
    assert lines[-1].startswith("CIFAR-10 test set: 20 images in ")
    # Second use: straight from the cache.
    assert cifar10.load_test_batch(url, cache, show=False)[0] == filename
    assert len(requests) == 1


def test_a_damaged_test_batch_in_the_cache_is_fetched_again(tmp_path: Path, archive_server) -> None:
    url, requests = archive_server
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "test_batch.bin").write_bytes(b"\0" * cifar10.RECORD_BYTES)
    filename = cifar10.find_test_batch(url, cache)
    assert hashlib.sha256(filename.read_bytes()).hexdigest() == cifar10.TEST_BATCH_SHA256
    assert len(requests) == 1


def test_sample_photo_is_a_quiet_colour_image() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        photo = cifar10.sample_photo()
    assert [str(w.message) for w in caught] == []
    assert photo.shape == (32, 32, 3) and photo.dtype == np.uint8
    assert photo.std() > 20  # a photo, not a blank
    assert np.abs(photo[..., 0].astype(int) - photo[..., 2]).mean() > 5  # in colour


def test_in_jupyter_the_download_shows_a_progress_widget_and_nothing_on_stderr(tmp_path: Path, archive_server) -> None:
    """What a student sees in the notebook: tqdm's widget, no warning, no stderr."""
    from nbclient import NotebookClient

    url, _ = archive_server
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import tfbook_utils\nfrom pathlib import Path\nfrom tfbook_utils import cifar10\n"
        f"cifar10.ARCHIVE_MD5, cifar10.ARCHIVE_SHA256 = {cifar10.ARCHIVE_MD5!r}, {cifar10.ARCHIVE_SHA256!r}\n"
        f"cifar10.TEST_BATCH_SHA256 = {cifar10.TEST_BATCH_SHA256!r}\n"
        f"filename, class_names = cifar10.load_test_batch({url!r}, Path({str(tmp_path / 'cache')!r}))")]
    env = {k: v for k, v in __import__("os").environ.items() if k != "TFBOOK_OFFLINE"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    NotebookClient(nb, timeout=120, kernel_name="python3").execute(env=env)
    outputs = nb.cells[0].outputs
    assert [o for o in outputs if o.get("name") == "stderr" or o.output_type == "error"] == []
    widgets = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(widgets) == 1, outputs
    text = "".join(o.get("text", "") for o in outputs)
    assert "Downloading CIFAR-10" in text and "CIFAR-10 test set: 20 images" in text
    assert "Warning" not in text and (tmp_path / "cache" / "test_batch.bin").is_file()
