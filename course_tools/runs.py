"""Whole runs of the course: ``tfbook.py lecture``, ``lecture --quick`` and ``refresh``.

Each run works in a folder of its own, ``build/runs/<mode>-<time>-<pid>/``:
a copy of the repository in which the notebooks run one after another,
each in a child process (``runner.py``).  As soon as a notebook has
finished, its results are *published* under a lock into
``build/lecture/`` (``build/lecture-quick/`` for quick runs):

* ``results.json`` and ``results.md``: the latest result of every notebook;
* ``executed/<chapter>/<notebook>.ipynb``: its executed copy;
* ``logs/<tag>.log``: what its runner and kernel wrote outside the cells;
* ``trained/``: the checkpoint it ships, from a run without problems
  (what ``tfbook.py ship-checkpoints`` copies into ``checkpoints/``).

Publishing replaces only that notebook's entries, each file through a
temporary file and a rename.  So two runs at the same time both keep their
results, Ctrl-C keeps every notebook that had finished, and a later run of
one notebook never wipes the others.  The run's own folder is deleted at
the end, also after Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .catalog import COURSE, REPO_ROOT, Notebook
from .runner import NotebookRun, copy_repository

BUILD = REPO_ROOT / "build"
RUNS = BUILD / "runs"
LOGS = "logs"  # beside results.json: what each notebook's runner and kernel wrote outside the cells
STOP_GRACE_S = 20  # how long a stopped notebook may take to shut its kernel down


class Interrupted(Exception):
    """Ctrl-C or SIGTERM during a run."""


@dataclass
class Outcome:
    runs: list[NotebookRun] = field(default_factory=list)
    interrupted: bool = False
    published: Path | None = None


def published_dir(quick: bool, build: Path = BUILD) -> Path:
    return build / ("lecture-quick" if quick else "lecture")


# ---------------------------------------------------------------------------
# terminal and files
# ---------------------------------------------------------------------------

def paint(text: str, ok: bool) -> str:
    """Green or red on a terminal that shows colours; files never get codes."""
    if not sys.stdout.isatty() or os.environ.get("NO_COLOR"):
        return text
    return f"\x1b[{32 if ok else 31}m{text}\x1b[0m"


def write_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary file and a rename: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """One publisher at a time in ``folder`` (other runs wait their turn)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+b") as f:
        if os.name == "nt":
            import msvcrt

            f.seek(0)
            msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)
        else:
            import fcntl

            fcntl.flock(f, fcntl.LOCK_EX)
        yield


# ---------------------------------------------------------------------------
# published results
# ---------------------------------------------------------------------------

def read_results(folder: Path) -> dict[str, dict]:
    """The published records of ``folder``, keyed by notebook path."""
    path = folder / "results.json"
    if not path.is_file():
        return {}
    return {entry["notebook"]: entry for entry in json.loads(path.read_text(encoding="utf-8"))}


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def table(records: list[dict], quick: bool) -> str:
    """A markdown table of run records (no colour: it goes into files too)."""
    mode = "QUICK mode (loops cut short: results are NOT the lecture's)" if quick else "full run"
    lines = [f"Lecture run, {mode}", "",
             "| notebook | result | seconds | kernel peak MB | kernel CPU s | status |",
             "|---|---|---:|---:|---:|---|"]
    for r in records:
        status = "ok" if not r["error"] and not r["problems"] else (r["error"] or r["problems"][0])
        lines.append(f"| {r['notebook'].removeprefix('chapters/')} | {r['result'] or '-'} | {r['seconds']:.0f} | "
                     f"{_number(r.get('peak_mb'))} | {_number(r.get('cpu_s'))} | {status} |")
    lines.append(f"| total | | {sum(r['seconds'] for r in records):.0f} | | | |")
    return "\n".join(lines)


def publish(run: NotebookRun, notebook: Notebook, run_repo: Path, executed: Path, folder: Path, quick: bool) -> None:
    """Make one finished notebook's results the published ones (see the module docstring)."""
    with locked(folder):
        if executed.is_file():
            write_atomic(folder / "executed" / notebook.chapter / notebook.file_name, executed.read_bytes())
        log = executed.with_suffix(".log")
        if log.is_file():
            write_atomic(folder / LOGS / log.name, log.read_bytes())
        if notebook.ships and run.ok:
            for part in sorted((run_repo / "chapters" / notebook.chapter).glob(notebook.ships + ".*")):
                write_atomic(folder / "trained" / part.name, part.read_bytes())
        records = read_results(folder)
        records[run.notebook] = {**run.record(), "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
        ordered = [records[n.relative_path] for n in COURSE if n.relative_path in records]
        ordered += [r for key, r in records.items() if key not in {n.relative_path for n in COURSE}]
        write_atomic(folder / "results.json", json.dumps(ordered, indent=1, ensure_ascii=False).encode())
        write_atomic(folder / "results.md", (table(ordered, quick) + "\n").encode())


# ---------------------------------------------------------------------------
# one run
# ---------------------------------------------------------------------------

def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signal.Signals(signum).name)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM both become ``Interrupted`` in the main thread."""
    previous = {s: signal.signal(s, _raise_interrupted) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def _uninterrupted() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back until the block is done (publishing,
    cleaning up), so that it is never left half done."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def _forget_stale_runs() -> None:
    """Delete the folders of runs whose process is gone (killed, not interrupted)."""
    for folder in RUNS.glob("*-*-*"):
        try:
            os.kill(int(folder.name.rsplit("-", 1)[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (ValueError, OSError):
            pass


def _kill_kernel(pid_file: Path) -> None:
    """Kill a kernel left behind by a child that had to be killed."""
    try:
        os.killpg(int(pid_file.read_text()), signal.SIGKILL)
    except (OSError, ValueError, AttributeError):
        pass


def run_in_child(notebook: Notebook, repo: Path, out: Path, quick: bool, timeout: int) -> NotebookRun:
    """Run ``notebook`` inside ``repo`` in a child process and return its record."""
    record, executed = out / f"{notebook.tag}.json", out / f"{notebook.tag}.ipynb"
    command = [sys.executable, "-m", "course_tools.runner", str(repo / notebook.relative_path),
               "--workdir", str(repo), "--timeout", str(timeout), "--executed", str(executed),
               "--record", str(record), "--repeated-tags", ",".join(notebook.repeated_tags)]
    if quick:
        command += ["--quick"] + (["--quick-steps", str(notebook.quick_steps)] if notebook.quick_steps else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
           "TFBOOK_KERNEL_PID_FILE": str(out / f"{notebook.tag}.pid")}
    # its own session: Ctrl-C in the terminal reaches only this process, which then stops the child;
    # what the child and its kernel write outside the cells goes to a log, published with the results
    with open(out / f"{notebook.tag}.log", "wb") as log:
        child = subprocess.Popen(command, cwd=REPO_ROOT, env=env, start_new_session=True,
                                 stdout=log, stderr=subprocess.STDOUT)
    try:
        code = child.wait()
    except Interrupted:
        child.terminate()  # nbclient shuts the kernel down on SIGTERM
        try:
            child.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise
    finally:
        _kill_kernel(out / f"{notebook.tag}.pid")
    if code != 0 or not record.is_file():
        why = f"the runner stopped with exit code {code} (see {LOGS}/{notebook.tag}.log beside results.json)"
        return NotebookRun(notebook=notebook.relative_path, error=why)
    import nbformat

    run = NotebookRun(**json.loads(record.read_text(encoding="utf-8")))
    run.executed = nbformat.read(executed, as_version=4)
    return run


def run_course(
    notebooks: list[Notebook],
    quick: bool,
    timeout: int = 3600,
    echo: Callable[[str], None] = print,
) -> Outcome:
    """Run ``notebooks`` in order in a fresh run folder, publishing each as it finishes."""
    folder = published_dir(quick)
    _forget_stale_runs()
    work = RUNS / f"{'quick' if quick else 'full'}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    outcome = Outcome(published=folder)
    try:
        with _interruptible():
            repo = copy_repository(work / "repo")
            (work / "out").mkdir()
            for notebook in notebooks:
                echo(f"running {notebook.relative_path} ...")
                run = run_in_child(notebook, repo, work / "out", quick, timeout)
                with _uninterrupted():
                    publish(run, notebook, repo, work / "out" / f"{notebook.tag}.ipynb", folder, quick)
                outcome.runs.append(run)
                echo(f"  {run.seconds:7.1f} s  {run.result or '-'}  " + paint(run.status, run.ok))
                for problem in run.problems[1 if not run.error else 0:]:
                    echo(f"    {problem}")
    except Interrupted as signal_name:
        outcome.interrupted = True
        echo(f"\nInterrupted ({signal_name}): {len(outcome.runs)} finished notebook(s) kept in "
             f"{folder.relative_to(REPO_ROOT)}/, the rest not run.")
    finally:
        # a second Ctrl-C must neither leave the folder half deleted nor print a traceback
        ignored = {s: signal.signal(s, signal.SIG_IGN) for s in STOP_SIGNALS}
        try:
            shutil.rmtree(work, ignore_errors=True)
        finally:
            for s, handler in ignored.items():
                signal.signal(s, handler)
    return outcome
