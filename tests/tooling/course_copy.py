"""A copy of the repository with a few tiny notebooks added to its catalog,
for testing whole runs (``tfbook.py lecture``) with a real kernel in seconds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat

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
