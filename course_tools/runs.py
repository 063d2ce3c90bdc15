"""Whole runs of the course: ``tfbook.py lecture``, ``lecture --quick`` and ``refresh``.

Each run works in a folder of its own, ``build/runs/<mode>-<time>-<pid>/``:
a copy of the repository in which the notebooks run one after another,
each in a child process (``runner.py``).  As soon as a notebook has
finished, its results are *published* under a lock into
``build/lecture/`` (``build/lecture-quick/`` for quick runs):

* ``results.json`` and ``results.md``: the latest result of every notebook
  (``records/<tag>.json`` keeps each record alone too: a damaged
  ``results.json`` is set aside and rebuilt from them);
* ``executed/<chapter>/<notebook>.ipynb``: its executed copy;
* ``logs/<tag>.log``: what its runner and kernel wrote outside the cells;
* ``trained/``: the checkpoint it ships, from a run without problems
  (what ``tfbook.py ship-checkpoints`` copies into ``checkpoints/``).

Publishing replaces only that notebook's entries: every file of it is
written beside its target, synced and checked, and only then are they all
renamed into place (a full disk changes nothing).  So two runs at the same time both keep their
results, Ctrl-C keeps every notebook that had finished, and a later run of
one notebook never wipes the others.  The run's own folder is deleted at
the end, also after Ctrl-C; how a run ends with its command, however the
command ends, is ``lifetime.py``'s docstring.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import lifetime
from .catalog import COURSE, REPO_ROOT, Notebook
from .files import replace_all
from .lifetime import Interrupted
from .runner import NotebookRun, copy_repository

BUILD = REPO_ROOT / "build"
RUNS = BUILD / "runs"
LOGS = "logs"  # beside results.json: what each notebook's runner and kernel wrote outside the cells
STOP_GRACE_S = 20  # how long a stopped notebook may take to shut its kernel down


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

RECORD_KEYS = ("notebook", "seconds", "error", "result", "problems")
RECORDS = "records"  # beside results.json: each notebook's record alone, from which a damaged results.json is rebuilt


def shown(path: Path) -> str:
    """``path`` as messages name it: relative to the repository where it lies inside."""
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _records_in(path: Path) -> list[dict]:
    """The records ``path`` holds; ``ValueError`` (or ``UnicodeDecodeError``) when it is damaged."""
    entries = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(entries, list) or not all(isinstance(e, dict) and all(k in e for k in RECORD_KEYS)
                                                for e in entries):
        raise ValueError("it is not a list of notebook records")
    return entries


def read_results(folder: Path, say: Callable[[str], None] = print, locked_already: bool = False) -> dict[str, dict]:
    """The published records of ``folder``, keyed by notebook path.  A damaged
    ``results.json`` (cut short, edited by hand) is named in one line, set
    aside as ``results.json.damaged-<time>`` and rebuilt from ``records/``."""
    path = folder / "results.json"
    if not path.is_file():
        return {}
    try:
        return {entry["notebook"]: entry for entry in _records_in(path)}
    except ValueError:
        pass
    with contextlib.nullcontext() if locked_already else locked(folder):
        try:  # another run may have repaired it meanwhile
            return {entry["notebook"]: entry for entry in _records_in(path)}
        except ValueError as error:
            damage = str(error).splitlines()[0][:120]
        aside = path.with_name(f"results.json.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        while aside.exists():  # never over an earlier damaged one
            aside = aside.with_name(aside.name + "+")
        os.replace(path, aside)
        records = {}
        for record in sorted((folder / RECORDS).glob("*.json")):
            with contextlib.suppress(ValueError):  # a damaged record is left out
                records.update({entry["notebook"]: entry for entry in _records_in(record)})
        _write_results(folder, records)
    say(f"{shown(path)} was damaged ({damage}): set aside as {aside.name} and rebuilt from the "
        f"{len(records)} notebook record(s) in {shown(folder / RECORDS)}/.")
    return records


def _results_files(folder: Path, records: dict[str, dict]) -> dict[Path, bytes]:
    """results.json and results.md of ``folder`` from ``records``, in the course's order."""
    ordered = [records[n.relative_path] for n in COURSE if n.relative_path in records]
    ordered += [r for key, r in records.items() if key not in {n.relative_path for n in COURSE}]
    return {folder / "results.json": json.dumps(ordered, indent=1, ensure_ascii=False).encode(),
            folder / "results.md": (table(ordered, folder.name.endswith("-quick")) + "\n").encode()}


def _write_results(folder: Path, records: dict[str, dict]) -> None:
    replace_all(_results_files(folder, records))


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


def publish(run: NotebookRun, notebook: Notebook, run_repo: Path, executed: Path, folder: Path,
            say: Callable[[str], None] = print) -> None:
    """Make one finished notebook's results the published ones (see the module
    docstring): all its files are written and checked first, then renamed into
    place together (``files.replace_all``)."""
    with locked(folder):
        files = {}
        if executed.is_file():
            files[folder / "executed" / notebook.chapter / notebook.file_name] = executed.read_bytes()
        log = executed.with_suffix(".log")
        if log.is_file():
            files[folder / LOGS / log.name] = log.read_bytes()
        if notebook.ships and run.ok:
            for part in sorted((run_repo / "chapters" / notebook.chapter).glob(notebook.ships + ".*")):
                files[folder / "trained" / part.name] = part.read_bytes()
        record = {**run.record(), "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
        files[folder / RECORDS / f"{notebook.tag}.json"] = json.dumps([record], indent=1).encode()
        records = read_results(folder, say, locked_already=True)
        records[run.notebook] = record
        files.update(_results_files(folder, records))
        for path in files:
            path.parent.mkdir(parents=True, exist_ok=True)
        replace_all(files)


# ---------------------------------------------------------------------------
# one run
# ---------------------------------------------------------------------------

def _forget_stale_runs() -> None:
    """Delete the folders of runs that no process of theirs holds any more (killed,
    not interrupted), after ending the kernels they recorded; never a live run's."""
    for folder in RUNS.glob("*-*-*"):
        if folder.is_dir() and not lifetime.is_live(folder):
            lifetime.end_kernels(folder)
            shutil.rmtree(folder, ignore_errors=True)


def _stop(child: subprocess.Popen) -> None:
    """Stop a runner: on SIGTERM it kills its kernel and records why it stopped."""
    child.terminate()
    try:
        child.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def run_in_child(notebook: Notebook, repo: Path, out: Path, quick: bool, timeout: int,
                 alive: int | None = None) -> NotebookRun:
    """Run ``notebook`` inside ``repo`` in a child process and return its record;
    the child inherits ``alive``, the run folder's lock (see lifetime.py)."""
    record, executed = out / f"{notebook.tag}.json", out / f"{notebook.tag}.ipynb"
    command = [sys.executable, "-m", "course_tools.runner", str(repo / notebook.relative_path),
               "--workdir", str(repo), "--timeout", str(timeout), "--executed", str(executed),
               "--record", str(record), "--repeated-tags", ",".join(notebook.repeated_tags)]
    if quick:
        command += ["--quick"] + (["--quick-steps", str(notebook.quick_steps)] if notebook.quick_steps else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
           "TFBOOK_KERNEL_PID_FILE": str(out / f"{notebook.tag}.pid"), lifetime.RUNNER_PARENT: str(os.getpid())}
    # its own session: Ctrl-C in the terminal reaches only this process, which then stops the child;
    # what the child and its kernel write outside the cells goes to a log, published with the results
    child = None
    try:
        with open(out / f"{notebook.tag}.log", "wb") as log:
            child = subprocess.Popen(command, cwd=REPO_ROOT, env=env, start_new_session=True, stdout=log,
                                     stderr=subprocess.STDOUT, pass_fds=() if alive is None else (alive,))
        code = child.wait()
    except Interrupted:
        if child is not None:
            _stop(child)
        raise
    finally:
        lifetime.end_kernel(out / f"{notebook.tag}.pid", out.parent)  # one left behind by a runner that was killed
    try:  # the runner's own record, also when it stopped early (it says why)
        found = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        why = f"the runner stopped with exit code {code} (see {LOGS}/{notebook.tag}.log beside results.json)"
        return NotebookRun(notebook=notebook.relative_path, error=why)
    import nbformat

    run = NotebookRun(**found)
    if executed.is_file():
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
    work = RUNS / f"{'quick' if quick else 'full'}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    outcome = Outcome(published=folder)

    def say(text: str) -> None:  # a closed terminal or pipe must not stop the run
        with contextlib.suppress(OSError):
            echo(text)

    alive = None
    try:
        with lifetime.interruptible():
            _forget_stale_runs()
            work.mkdir(parents=True)
            alive = lifetime.hold_alive(work)
            repo = copy_repository(work / "repo")
            (work / "out").mkdir()
            for notebook in notebooks:
                say(f"running {notebook.relative_path} ...")
                run = run_in_child(notebook, repo, work / "out", quick, timeout, alive)
                with lifetime.signals_held():
                    publish(run, notebook, repo, work / "out" / f"{notebook.tag}.ipynb", folder, say)
                    outcome.runs.append(run)
                say(f"  {run.seconds:7.1f} s  {run.result or '-'}  " + paint(run.status, run.ok))
                for problem in run.problems[1 if not run.error else 0:]:
                    say(f"    {problem}")
    except Interrupted as signal_name:
        outcome.interrupted = True
        say(f"\nInterrupted ({signal_name}): {len(outcome.runs)} finished notebook(s) kept in "
            f"{shown(folder)}/, the rest not run.")
    finally:
        # a second Ctrl-C must neither leave the folder half deleted nor print a traceback
        ignored = {s: signal.signal(s, signal.SIG_IGN) for s in lifetime.STOP_SIGNALS}
        try:
            shutil.rmtree(work, ignore_errors=True)
            if alive is not None:
                os.close(alive)
        finally:
            for s, handler in ignored.items():
                signal.signal(s, handler)
    return outcome
