"""Nothing outlives its command.

A whole run is four processes: ``python3 tfbook.py`` (the wrapper), the
``.venv`` Python running the command (``runs.py``), one runner per notebook
(``runner.py``) and the runner's kernel.  The runner and the kernel each
run in a session of their own, so that Ctrl-C reaches only the command,
which then stops them in order.  What binds each one to the one above:

* **Stop signals** -- Ctrl-C (SIGINT), SIGTERM and a closed terminal
  (SIGHUP) -- become one ``Interrupted`` in the command; the wrapper passes
  every one of them on and waits for the command to finish stopping.
* **Parent death** -- the command and each runner ask Linux to send them
  SIGTERM when their parent dies (``prctl(PR_SET_PDEATHSIG)``; elsewhere a
  thread watches the parent's pid), and the kernel polls for its parent
  (ipykernel's own ``JPY_PARENT_PID``).  So even SIGKILL to the command
  ends its runner and kernel within seconds.
* **Liveness of a run folder** -- a run holds an exclusive lock on
  ``<run folder>/.alive`` as long as the command or one of its runners
  lives (the runners inherit it).  A later run deletes a folder only when
  it can take that lock, after ending the kernels recorded in it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
PR_SET_PDEATHSIG = 1  # linux/prctl.h
ALIVE = ".alive"
RUNNER_PARENT = "TFBOOK_RUNNER_PARENT"  # a notebook's runner ends when this process (the run's command) does
WRAPPER = "TFBOOK_WRAPPER_PID"  # the command ends when this process (python3 tfbook.py) does


class Interrupted(Exception):
    """Ctrl-C, SIGTERM or a closed terminal during a run; the argument is the signal's name."""


_stopping: list[str] = []


def _raise_interrupted(signum: int, frame: object) -> None:
    if _stopping:  # the same stop, told twice (the terminal and the wrapper): stopping goes on in order
        return
    _stopping.append(signal.Signals(signum).name)
    raise Interrupted(_stopping[0])


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Every stop signal becomes one ``Interrupted`` in the main thread; later ones are ignored."""
    _stopping.clear()
    previous = {s: signal.signal(s, _raise_interrupted) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold the stop signals back until the block is done (publishing, a swap of
    files, cleaning up), so that it is never left half done."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)  # a block inside another keeps them held


def die_with_parent(parent: int) -> None:
    """Get SIGTERM when the process ``parent`` (this one's parent) ends -- at once
    if it already has."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    elif os.name == "posix":
        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(1)
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=watch, daemon=True, name="parent-watch").start()
    if os.name == "posix" and os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def bind_to(variable: str) -> int | None:
    """``die_with_parent`` for the pid in environment ``variable`` (returned), which
    is then removed, so that grandchildren do not bind to it by mistake."""
    parent = os.environ.pop(variable, "")
    if not parent.isdigit():
        return None
    die_with_parent(int(parent))
    return int(parent)


# ---------------------------------------------------------------------------
# run folders
# ---------------------------------------------------------------------------

def hold_alive(folder: Path) -> int | None:
    """Lock ``folder/.alive`` for as long as this process (and the children the
    returned descriptor is passed to) live; None where there is no flock."""
    if os.name != "posix":
        return None
    import fcntl

    locking = folder / f"{ALIVE}-{os.getpid()}"
    handle = os.open(locking, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(handle, fcntl.LOCK_EX)
    os.replace(locking, folder / ALIVE)  # only ever seen locked
    return handle


def is_live(folder: Path) -> bool:
    """Whether the run of ``folder`` still has a process: its lock is held, or
    (without one) the pid in its name is alive."""
    lock = folder / ALIVE
    if os.name == "posix" and lock.is_file():
        import fcntl

        try:
            handle = os.open(lock, os.O_RDWR)
        except OSError:
            return True  # not ours to judge
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(handle)  # the lock goes with it
    try:
        os.kill(int(folder.name.rsplit("-", 1)[1]), 0)
    except (ValueError, IndexError):
        return True  # not a run folder: leave it
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _runs_inside(pid: int, folder: Path) -> bool:
    """Whether process ``pid`` works inside ``folder`` (a kernel of that run, not a
    process that got its pid later); True where /proc cannot tell."""
    proc = Path(f"/proc/{pid}")
    if not Path("/proc/self").exists():
        return True
    try:
        return Path(os.readlink(proc / "cwd")).is_relative_to(folder.resolve())
    except OSError:
        return False


def end_kernel(pid_file: Path, folder: Path) -> None:
    """Kill the kernel whose pid ``pid_file`` recorded, if it still works inside ``folder``."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    if _runs_inside(pid, folder):
        with contextlib.suppress(OSError, AttributeError):
            os.killpg(pid, signal.SIGKILL)  # the kernel leads its own process group


def end_kernels(folder: Path) -> None:
    """Kill the kernels whose pids a dead run recorded (``out/*.pid``)."""
    for pid_file in folder.glob("out/*.pid"):
        end_kernel(pid_file, folder)
