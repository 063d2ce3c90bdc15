"""Run one notebook headless, as the course's commands and tests do.

A notebook runs top to bottom with nbclient, in its own chapter folder of a
copy of the repository (``copy_repository``), so nothing is written into
the tracked tree: not a student's checkpoints, logs or executed copies.

What can go wrong ends the notebook with one line in ``NotebookRun.error``
and never hangs the caller: a cell that raises, a cell that runs past the
timeout, a kernel that dies (out of memory, a crash, ``os._exit``; nbclient
notices within seconds because the kernel manager is asynchronous).

Whole runs execute each notebook in a child process
(``python -m course_tools.runner``, see ``runs.py``), so that Ctrl-C and
concurrent runs can stop or skip one notebook without touching the others.

The quick-mode contract (``quick=True``: ``tfbook.py lecture --quick``,
``tfbook.py test``), in full:

1. **Loops are cut, in memory only.**  In the code handed to the kernel,
   ``for ... in range(N)`` with a literal ``N`` above the notebook's quick
   length (``QUICK_STEPS``, or the catalog's ``quick_steps``) becomes
   ``range(<quick length>)``, and the literal report interval
   ``i % K == 0`` of that cell is scaled so the loop still reports a few
   times (``QUICK_REPORTS``).  Nothing else in a cell changes, and the
   committed notebooks are never touched: executed copies show the
   students' source.
2. **Quick runs restore the shipped checkpoints.**  A cut loop never saves
   the step that a later notebook restores (``mdc_session-4000``,
   ``cnn_session-20000``), so the result and recognizer notebooks find no
   checkpoint of their own and restore the pretrained one from
   ``checkpoints/``, as a student does who has not trained yet.
3. **No downloads.**  ``TFBOOK_OFFLINE=1`` is set, so the CIFAR-10 notebook
   uses its labelled offline stand-in unless the data set is in the cache.
4. **Results are not the lecture's.**  Tables of a quick run say QUICK;
   its accuracies only have to be well above chance (the catalog's
   ``min_quick_accuracy``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import checks, lifetime
from .catalog import COURSE, REPO_ROOT
from .files import write_atomic
from .quick import quick_version

COPY_IGNORE = shutil.ignore_patterns(".venv", ".git", "build", "__pycache__", "*.egg-info", ".pytest_cache",
                                     ".ruff_cache", ".ipynb_checkpoints")
KERNEL_DIED = ("the kernel died (out of memory, a crash or os._exit) -- run the notebook alone, "
               "or free memory, and try again")
STOPPED: list[int] = []  # the stop signal this runner got, if any: the notebook did not finish


def stopped_by(signum: int) -> str:
    """The one line a notebook's record says when its runner was stopped."""
    return (f"stopped by {signal.Signals(signum).name} before it finished (Ctrl-C, a closed terminal or a kill); "
            "run it again")


def _stop_before_the_kernel(signum: int, frame: object) -> None:
    STOPPED.append(signum)
    raise SystemExit(128 + signum)


def _stop_the_kernel(signum: int, km: Any, task: asyncio.Task) -> None:
    """A stop signal while the kernel runs: kill it now (a stopped run has no use
    for a polite shutdown that waits for the cell) and end the execution."""
    if not STOPPED:
        STOPPED.append(signum)
    pid = getattr(km.provisioner, "pid", None)
    if pid:
        try:
            os.killpg(pid, signal.SIGKILL)  # the kernel leads its own process group
        except (OSError, AttributeError):
            pass
    task.cancel()


@dataclass
class NotebookRun:
    notebook: str  # chapters/<chapter>/<title>.ipynb
    seconds: float = 0.0
    error: str = ""  # one line: why the notebook stopped
    result: str = ""  # what the README's contents table quotes
    problems: list[str] = field(default_factory=list)  # stderr, warnings, tags out of order
    peak_mb: float | None = None  # the kernel's peak resident memory (Linux)
    cpu_s: float | None = None  # the kernel's CPU time, all threads (Linux)
    executed: Any = field(default=None, repr=False)  # the executed nbformat notebook

    @property
    def ok(self) -> bool:
        return not self.error and not self.problems

    @property
    def status(self) -> str:
        """'ok', or the first thing that went wrong."""
        return "ok" if self.ok else (self.error or self.problems[0])

    def record(self) -> dict:
        """What results.json keeps of this run."""
        fields = asdict(self)
        fields.pop("executed")
        return fields


def copy_repository(target: Path, source: Path = REPO_ROOT) -> Path:
    """A working copy of the repository without .venv, .git and build outputs."""
    shutil.copytree(source, target, ignore=COPY_IGNORE, symlinks=True)
    return target


def kernel_env(quick: bool, workdir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if workdir is not None:
        # the copy's tfbook_utils, data and checkpoints, not the editable install's
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(workdir), env.get("PYTHONPATH", "")]))
    if quick:
        env["TFBOOK_OFFLINE"] = "1"  # quick runs never download CIFAR-10 (see quick.py)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["TFBOOK_HEADLESS"] = "1"  # nobody at the screen: the canvas draws a sample digit
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return env


def kernel_usage(pid: int | None) -> tuple[float | None, float | None]:
    """(peak resident MB, CPU seconds) of a live kernel process; Nones where
    /proc is not there (macOS, Windows)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return None, None
    peak_kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), None)
    ticks = sum(int(value) for value in stat[11:15])  # utime, stime, cutime, cstime
    return (peak_kb / 1024 if peak_kb is not None else None), ticks / os.sysconf("SC_CLK_TCK")


def execute(
    notebook: Path,
    workdir: Path,
    quick: bool,
    timeout: int = 3600,
    quick_steps: int | None = None,
    repeated_tags: tuple[str, ...] = (),
    watch: Callable[[Any], None] | None = None,
) -> NotebookRun:
    """Execute one notebook that lies inside ``workdir`` (a copy of the
    repository); ``timeout`` is per cell, in seconds.  A notebook the
    catalog marks ``browser`` runs in JupyterLab in Chromium instead
    (``browser_runner.py``; ``watch(page)`` is called while it runs)."""
    if any(n.browser and notebook.relative_to(workdir).as_posix() == n.relative_path for n in COURSE):
        from .browser_runner import execute_in_browser

        return execute_in_browser(notebook, workdir, quick, timeout, quick_steps, repeated_tags, watch)
    import nbformat
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(notebook, as_version=4)
    runnable = quick_version(nb, quick_steps) if quick else nb
    run = NotebookRun(notebook=notebook.relative_to(workdir).as_posix())
    # POSIX: the kernel's sockets are files in a short temporary folder (local only, no "running over
    # TCP" warning; a socket path longer than about 100 characters fails); Windows has only TCP
    sockets = tempfile.mkdtemp(prefix="tfbook-") if os.name == "posix" else None
    km = (AsyncKernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "kernel")) if sockets
          else AsyncKernelManager(kernel_name="python3"))
    client = NotebookClient(runnable, km=km, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(notebook.parent)}})
    pid_file = os.environ.get("TFBOOK_KERNEL_PID_FILE")  # runs.py kills a kernel left behind with it

    def started(notebook: Any) -> None:
        if pid_file:
            Path(pid_file).write_text(str(km.provisioner.pid))
        if threading.current_thread() is not threading.main_thread():
            return  # a test runs notebooks in threads: signals reach only the main thread's handlers
        loop = asyncio.get_running_loop()
        for s in lifetime.STOP_SIGNALS:  # in place of nbclient's own handlers, which shut down politely
            loop.add_signal_handler(s, _stop_the_kernel, s, km, asyncio.current_task())

    client.on_notebook_start = started
    start = time.perf_counter()
    try:
        client.execute(env=kernel_env(quick, workdir))
        run.peak_mb, run.cpu_s = kernel_usage(getattr(km.provisioner, "pid", None))
    except DeadKernelError:
        run.error = KERNEL_DIED
    except CellTimeoutError:
        run.error = f"a cell ran longer than {timeout} s and was stopped"
    except CellExecutionError as error:
        lines = checks.plain(str(error)).strip().splitlines()
        run.error = lines[-1][:300] if lines else type(error).__name__
    except asyncio.CancelledError:
        if not STOPPED:
            raise
    finally:
        if STOPPED:
            run.error = stopped_by(STOPPED[0])
        run.seconds = time.perf_counter() - start
        if km.has_kernel:
            try:
                run_sync(km.shutdown_kernel)(now=bool(run.error))
            except Exception:  # noqa: BLE001 - a kernel that is already gone is fine
                pass
        if sockets:
            shutil.rmtree(sockets, ignore_errors=True)
    if quick:  # executed copies show the students' source, not the shortened one
        for original, executed in zip(nb.cells, runnable.cells, strict=True):
            executed.source = original.source
    run.executed = runnable
    run.result = checks.final_result(runnable)
    run.problems = checks.tag_problems(nb, repeated_tags) + checks.output_problems(runnable)
    return run


def main(argv: list[str]) -> int:
    """Child-process entry point of ``runs.py``: run one notebook, write the
    executed copy and its record (JSON) where the parent said."""
    parser = argparse.ArgumentParser(prog="python -m course_tools.runner")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--timeout", type=int, default=3600)
    parser.add_argument("--quick-steps", type=int)
    parser.add_argument("--repeated-tags", default="")
    parser.add_argument("--executed", type=Path, required=True)
    parser.add_argument("--record", type=Path, required=True)
    args = parser.parse_args(argv)
    for s in lifetime.STOP_SIGNALS:
        signal.signal(s, _stop_before_the_kernel)
    parent = lifetime.bind_to(lifetime.RUNNER_PARENT)  # SIGTERM when the run's command ends, however it ends
    try:
        import nbformat

        run = execute(args.notebook, args.workdir, args.quick, args.timeout, args.quick_steps,
                      tuple(filter(None, args.repeated_tags.split(","))))
        for s in lifetime.STOP_SIGNALS:  # from here on a stop only ends the runner once its record is written
            signal.signal(s, lambda signum, frame: STOPPED.append(signum))
        args.executed.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(run.executed, args.executed)
        write_atomic(args.record, json.dumps(run.record(), indent=1).encode())
    except SystemExit:  # stopped before the kernel ran: nothing to record
        pass
    if not STOPPED:
        return 0
    if parent is not None and os.getppid() != parent:  # the run's command is gone: nobody else cleans up
        shutil.rmtree(args.workdir.parent, ignore_errors=True)
    return 128 + STOPPED[0]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
