"""A copy of the repository with a few tiny notebooks added to its catalog,
for testing whole runs (``tfbook.py lecture``) with a real kernel in seconds."""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

import nbformat

from course_tools.catalog import REPO_ROOT
from course_tools.runner import copy_repository

# tag -> (title, code of its one tagged cell, checkpoint prefix it ships or None)
TINY = {
    "QKA": ("Quick one", "open('qka_session-1.index', 'w').write('i')\n"
                         "open('qka_session-1.data-00000-of-00001', 'w').write('d')\n"
                         "print('Result: first')", "qka_session-1"),
    "QKB": ("Quick two", "print('Result: second')", None),
    "DIE": ("Dies", "import os\nos._exit(1)", None),
    "ERR": ("Raises", "raise ValueError('bad value')", None),
    "SLW": ("Sleeps", "import time\nprint('Result: started', flush=True)\ntime.sleep(300)", None),
}


def make_course_copy(target: Path) -> Path:
    """The repository copied to ``target``, plus the notebooks of ``TINY`` in
    ``chapters/Tiny/``, each one catalog entry (as a maintainer adds one)."""
    repo = copy_repository(target)
    folder = repo / "chapters" / "Tiny"
    folder.mkdir()
    entries = []
    for tag, (title, code, ships) in TINY.items():
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}"),
                    nbformat.v4.new_markdown_cell(f"**[{tag}-01]** the cell under test"),
                    nbformat.v4.new_code_cell(code)]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
        nbformat.write(nb, folder / f"{title}.ipynb")
        entries.append(f'    Notebook("Tiny", "{title}", "{tag}", "beyond", "a test notebook", ships={ships!r}),\n')
    catalog = repo / "course_tools" / "catalog.py"
    catalog.write_text(catalog.read_text(encoding="utf-8") + "\nCOURSE += (\n" + "".join(entries) + ")\n",
                       encoding="utf-8")
    return repo


def course_command(repo: Path, *args: str, **popen: object) -> subprocess.Popen:
    """``python -m course_tools ARGS`` in ``repo``, as ``tfbook.py`` runs it inside .venv;
    its own process group, as a terminal's foreground job has."""
    env = {**os.environ, "PYTHONPATH": str(repo), "NO_COLOR": ""}
    return subprocess.Popen([sys.executable, "-m", "course_tools", *args], cwd=repo, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, **popen)


def through_the_wrapper(repo: Path, *args: str, terminal: int | None = None) -> subprocess.Popen:
    """``python3 tfbook.py ARGS`` in ``repo`` as a student types it: the system's Python,
    which re-executes .venv's Python (``repo/.venv`` links to this checkout's);
    in a session of its own, as a terminal's job -- with ``terminal`` (a pty's
    other end) as its controlling terminal, so that ^C typed there is a real Ctrl-C."""
    if not (repo / ".venv").exists():
        (repo / ".venv").symlink_to(REPO_ROOT / ".venv")
    python = Path(sys.base_prefix) / "bin" / "python3"
    env = {**os.environ, "PYTHONPATH": str(repo), "NO_COLOR": ""}
    if terminal is None:
        return subprocess.Popen([str(python), "tfbook.py", *args], cwd=repo, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    return subprocess.Popen([str(python), "tfbook.py", *args], cwd=repo, env=env, stdin=terminal, stdout=terminal,
                            stderr=terminal, start_new_session=True,
                            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))


def read_terminal(screen: int, process: subprocess.Popen, timeout: float) -> str:
    """Everything written to the pty whose master is ``screen`` until ``process`` has ended."""
    text, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([screen], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(screen, 65536)
            except OSError:  # every writer has gone
                break
            text += chunk
        elif process.poll() is not None:
            break
    return text.decode(errors="replace")
