"""Make ``%tensorboard`` work in the course's notebooks.

``%load_ext tensorboard`` and ``%tensorboard --logdir ...`` start the
``tensorboard`` program as a separate process and show its dashboard inside
the notebook.  Two things need help:

* Finding the program.  The magic runs whatever ``tensorboard`` is on the
  PATH, but Jupyter started as ``.venv/bin/python -m jupyterlab`` (what
  ``python3 tfbook.py lab`` does) does not put ``.venv/bin`` on the PATH.
  The magic also honours the ``TENSORBOARD_BINARY`` environment variable, so
  we point that at the ``tensorboard`` installed beside this Python (same
  environment, same version as the ``tensorboard`` package).

* Stale records.  Each TensorBoard leaves a small info file in the temporary
  folder so that ``%tensorboard`` can reuse it; a server that was killed
  (not stopped) leaves its file behind, and the magic would then "reuse" a
  server that no longer exists and show an empty frame.  We delete the
  files of processes that are gone (POSIX only).

* Cleaning up after headless runs.  A TensorBoard started by the magic keeps
  running after its kernel stops; that is what students want (re-running
  the cell reuses it), but the lecture's headless runs
  (``TFBOOK_HEADLESS=1``) would leave one server behind per run.  There, the
  kernel stops the TensorBoard servers it started when it shuts down.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from .environment import headless


def use_tensorboard_beside_python() -> None:
    """Set ``TENSORBOARD_BINARY`` to the ``tensorboard`` next to this Python,
    unless it is set already or there is none (then PATH decides)."""
    if os.environ.get("TENSORBOARD_BINARY"):
        return
    folder = Path(sys.executable).parent  # .venv/bin, or .venv\Scripts on Windows
    for name in ("tensorboard", "tensorboard.exe"):
        candidate = folder / name
        if candidate.is_file():
            os.environ["TENSORBOARD_BINARY"] = str(candidate)
            return


def _parent_pid(pid: int) -> int | None:
    """The parent of process ``pid`` (Linux only; None elsewhere or if gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Format: "pid (command) state ppid ..."; the command may contain spaces.
    return int(stat.rsplit(")", 1)[1].split()[1])


def forget_stopped_tensorboards() -> None:
    """Delete the info files of TensorBoard processes that no longer run."""
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return
    info_dir = Path(tempfile.gettempdir()) / ".tensorboard-info"
    for path in info_dir.glob("pid-*.info"):
        try:
            os.kill(int(path.stem.removeprefix("pid-")), 0)
            continue  # still running
        except ProcessLookupError:
            pass  # gone
        except (ValueError, OSError):
            continue  # not a pid, or another user's process: leave it alone
        try:
            path.unlink()
        except OSError:
            pass


def stop_own_tensorboards(timeout_s: float = 10.0) -> None:
    """Stop the TensorBoard servers that this process started, and wait
    (up to ``timeout_s``) until they have removed their info files."""
    try:
        from tensorboard import manager
    except ImportError:
        return
    own = [info.pid for info in manager.get_all() if _parent_pid(info.pid) == os.getpid()]
    for pid in own:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + timeout_s
    while own and time.monotonic() < deadline:
        running = {info.pid for info in manager.get_all()}
        if not running.intersection(own):
            break
        time.sleep(0.2)


def prepare_tensorboard() -> None:
    """Called once when ``tfbook_utils`` is imported."""
    use_tensorboard_beside_python()
    forget_stopped_tensorboards()
    if headless():
        atexit.register(stop_own_tensorboards)
