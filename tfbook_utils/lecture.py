"""Run the lecture's notebooks headless: the main command, the tests, the refresh.

Each notebook runs top to bottom with nbclient in its own chapter folder of
a temporary copy of the repository, so nothing is written into the tracked
tree (a student's checkpoints, TensorBoard logs, executed copies).

Quick mode shortens the training loops without touching the files: in the
code given to the kernel, ``for ... in range(N)`` with a literal N above
``QUICK_STEPS`` becomes ``range(QUICK_STEPS)``, and the literal report
interval ``i % K == 0`` in the same cell is scaled so the loop still
reports a few times.  The committed notebooks stay exactly as students see
them.
"""

from __future__ import annotations

import copy
import math
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .paths import REPO_ROOT

CHAPTERS = REPO_ROOT / "chapters"
QUICK_STEPS = 200
QUICK_REPORTS = 4
# Notebooks whose training steps cost microseconds but which learn slowly:
# MLE's Adam at its default rate 0.001 needs about 2,000 steps before the
# boundary has moved into the data (at 200 it is still at chance).
QUICK_STEPS_BY_TAG = {"mle": 2000}
TAG = re.compile(r"\*\*\[([A-Z]+(?:-EX)?)-(\d+)\]\*\*")
RESULT = re.compile(r"(?:Step: *\d+, *)?Loss: *([-0-9.eE+na]+)(?:, *Accuracy: *([0-9.]+))?")
RANGE = re.compile(r"\brange\((\d+)\)")
MODULO = re.compile(r"%\s*(\d+)\s*==\s*0")
COPY_IGNORE = shutil.ignore_patterns(".venv", ".git", "build", "__pycache__", "*.egg-info", ".pytest_cache")


# The lecture's order within each chapter (a notebook may need the one before
# it, e.g. the recognizer restores what the CNN notebook saved); notebooks
# added beyond the lecture follow in alphabetical order.
LECTURE_ORDER = [
    "Least squares example",
    "Maximum likelihood estimation example", "Comparing accuracy for training and test sets",
    "MNIST dataset sample", "MNIST softmax estimation",
    "Single layer network example", "Double layer network example", "MNIST single layer network",
    "MNIST single layer network with TensorBoard",
    "ORENIST filter example", "ORENIST classification example", "ORENIST dynamic filter example",
    "MNIST dynamic filter classification", "MNIST dynamic filter classification with TensorBoard",
    "MNIST dynamic filter result",
    "MNIST double layer CNN classification", "Handwriting recognizer", "CIFAR-10 dataset samples",
    # Chapter06 (beyond the lecture), in teaching order
    "Vanishing gradients", "Optimizer comparison", "Overfitting and regularization",
    "MNIST batch normalization CNN", "Graph mode and tf.keras",
]


def _lecture_order(path: Path) -> tuple[str, int, str]:
    rank = LECTURE_ORDER.index(path.stem) if path.stem in LECTURE_ORDER else len(LECTURE_ORDER)
    return path.parent.name, rank, path.stem


def notebooks(names: list[str] | None = None) -> list[Path]:
    """All lecture notebooks in lecture order, or those whose file name or
    tag prefix (e.g. ``MSE``) matches one of ``names``."""
    found = sorted((p for p in CHAPTERS.glob("*/*.ipynb") if ".ipynb_checkpoints" not in p.parts), key=_lecture_order)
    if not names:
        return found
    wanted = [n.lower() for n in names]
    picked = [p for p in found if any(w in str(p.relative_to(CHAPTERS)).lower() or w == tag_prefix(p) for w in wanted)]
    if not picked:
        raise SystemExit(f"No notebook matches {names}. Known: {', '.join(p.name for p in found)}")
    return picked


def tag_prefix(notebook: Path) -> str:
    """The lecture tag of a notebook, e.g. 'mse' for MNIST softmax estimation."""
    match = TAG.search(notebook.read_text(encoding="utf-8"))
    return match.group(1).lower() if match else ""


def shorten(source: str, steps: int = QUICK_STEPS) -> str:
    """Quick-mode version of one code cell (see the module docstring)."""
    loops = [int(n) for n in RANGE.findall(source) if int(n) > steps]
    if not loops:
        return source
    longest = max(loops)
    source = RANGE.sub(lambda m: f"range({min(int(m.group(1)), steps)})", source)

    def interval(match: re.Match) -> str:
        k = int(match.group(1))
        reports = max(1, min(longest // k, QUICK_REPORTS))
        return f"% {max(1, math.ceil(steps / reports))} == 0"

    return MODULO.sub(interval, source)


def quick_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = copy.deepcopy(nb)
    tags = [m.group(1).lower() for c in nb.cells if c.cell_type == "markdown" for m in [TAG.search(c.source)] if m]
    steps = QUICK_STEPS_BY_TAG.get(tags[0], QUICK_STEPS) if tags else QUICK_STEPS
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = shorten(cell.source, steps)
    return nb


@dataclass
class Run:
    notebook: Path
    executed: nbformat.NotebookNode | None = None
    seconds: float = 0.0
    error: str = ""
    result: str = ""
    problems: list[str] = field(default_factory=list)


def copy_repository(target: Path) -> Path:
    """A working copy of the repository without .venv, .git and build outputs."""
    shutil.copytree(REPO_ROOT, target, ignore=COPY_IGNORE, symlinks=True)
    return target


def kernel_env(quick: bool, workdir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if workdir is not None:
        # the copy's tfbook_utils, data and checkpoints, not the editable install's
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(workdir), env.get("PYTHONPATH", "")]))
    if quick:
        env["TFBOOK_OFFLINE"] = "1"  # tests never download CIFAR-10
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["TFBOOK_HEADLESS"] = "1"
    env["TFBOOK_QUICK"] = "1" if quick else "0"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return env


def execute(notebook: Path, workdir: Path, quick: bool, timeout: int = 3600) -> Run:
    """Execute one notebook (already inside ``workdir``, a copy of the repo)."""
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(notebook, as_version=4)
    runnable = quick_version(nb) if quick else nb
    run = Run(notebook=notebook)
    # IPC sockets in the work folder: local only, and no "running over TCP" warning.
    sockets = workdir / "build" / "kernel-ipc"
    sockets.mkdir(parents=True, exist_ok=True)
    km = KernelManager(kernel_name="python3", transport="ipc", ip=str(sockets / notebook.stem[:20]))
    client = NotebookClient(
        runnable,
        km=km,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(notebook.parent)}},
        env=kernel_env(quick, workdir),
    )
    start = time.perf_counter()
    try:
        client.execute(env=kernel_env(quick, workdir))
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
        run.error = str(error).strip().splitlines()[-1][:300] if str(error).strip() else type(error).__name__
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=False)
    run.seconds = time.perf_counter() - start
    if quick:
        # Show students' source, not the shortened one, in executed copies.
        for original, executed in zip(nb.cells, runnable.cells, strict=True):
            executed.source = original.source
    run.executed = runnable
    run.result = final_result(runnable)
    run.problems = tag_problems(nb) + output_problems(runnable)
    return run


def outputs_text(cell: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """(kind, text) for each output of a code cell."""
    found = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            found.append((out.get("name", "stdout"), out.get("text", "")))
        elif kind == "error":
            found.append(("error", f"{out.get('ename')}: {out.get('evalue')}"))
        elif kind in ("execute_result", "display_data"):
            found.append((kind, out.get("data", {}).get("text/plain", "")))
    return found


def output_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Errors, stderr and warning text in the outputs, one line each."""
    problems = []
    for number, cell in enumerate((c for c in nb.cells if c.cell_type == "code"), start=1):
        for kind, text in outputs_text(cell):
            if kind == "error":
                problems.append(f"code cell {number}: {text[:200]}")
            elif kind == "stderr":
                problems.append(f"code cell {number} wrote to stderr: {text.strip()[:200]!r}")
            elif re.search(r"Warning|WARNING|deprecat|^ERROR|Traceback", text, re.MULTILINE):
                problems.append(f"code cell {number} shows a warning: {text.strip()[:200]!r}")
    return problems


def final_result(nb: nbformat.NotebookNode) -> str:
    """The last 'Loss: ..., Accuracy: ...' (or a line starting 'Result:')
    that the notebook printed."""
    last = ""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for kind, text in outputs_text(cell):
            if kind not in ("stdout", "execute_result"):
                continue
            for line in text.splitlines():
                if line.startswith("Result:"):
                    last = line.removeprefix("Result:").strip()
                elif (m := RESULT.search(line)) is not None:
                    last = f"accuracy {m.group(2)}" if m.group(2) else f"loss {m.group(1)}"
    return last


def tag_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Every **[XXX-NN]** tag numbered 01, 02, ... per prefix, in order, each
    in a markdown cell directly followed by a code cell."""
    problems = []
    expected: dict[str, int] = {}
    cells = nb.cells
    for index, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        for prefix, number in TAG.findall(cell.source):
            want = expected.get(prefix, 1)
            if int(number) != want:
                problems.append(f"tag [{prefix}-{number}] found where [{prefix}-{want:02d}] was expected")
            expected[prefix] = int(number) + 1
            if index + 1 >= len(cells) or cells[index + 1].cell_type != "code":
                problems.append(f"tag [{prefix}-{number}] is not followed by a code cell")
    if not expected:
        problems.append("no **[XXX-NN]** tags found")
    return problems


def strip_for_commit(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop run-specific metadata (timings, widget state) before committing."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("ExecuteTime", None)
        if "id" in cell:
            pass
        for out in cell.get("outputs", []):
            out.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)
    return nb


def git_commit_id() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def table(runs: list[Run], quick: bool) -> str:
    mode = f"QUICK mode (loops cut to {QUICK_STEPS} steps: results are NOT the lecture's)" if quick else "full run"
    lines = [
        f"Lecture run, {mode}",
        "",
        "| notebook | result | seconds | status |",
        "|---|---|---:|---|",
    ]
    for run in runs:
        status = "ok" if not run.error and not run.problems else (run.error or run.problems[0])
        name = f"{run.notebook.parent.name}/{run.notebook.name}"
        lines.append(f"| {name} | {run.result or '-'} | {run.seconds:.0f} | {status} |")
    total = sum(r.seconds for r in runs)
    lines.append(f"| total | | {total:.0f} | |")
    return "\n".join(lines)
