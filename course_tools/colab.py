"""The first code cell of every notebook: setup for Google Colab.

In Colab the repository is not there and the working folder is
``/content``.  The cell clones the repository at the version the notebook
came from (data and checkpoints come with it), installs ``tfbook_utils``
without touching Colab's own TensorFlow, and changes into the notebook's
chapter folder so relative paths (``mdc_session-4000``, ``logs/``) behave
as they do locally.  Anywhere else it does nothing.

The cell cannot import this module (in Colab it is not installed yet), so
its source is generated here and written into the notebooks by
``python3 tfbook.py refresh``; tests check every notebook carries the
current version and run it with Colab simulated.
"""

from __future__ import annotations

from typing import Any

# Where the course repository is published, and the version the notebooks
# fetch (a tag, so a notebook always gets the files it was made with).
REPO_URL = "https://github.com/tfbook-course/tfbook"
REF = "v1.0.0"
COLAB_HOME = "/content/tfbook"
MARKER = "# Google Colab only:"

CELL_TEMPLATE = '''\
# Google Colab only: fetch the course repository (data and checkpoints included), install
# tfbook_utils without replacing Colab's TensorFlow, and move into this notebook's folder.
# On your own computer this cell does nothing.
import os, subprocess, sys
if "google.colab" in sys.modules:
    home = "{home}"
    if not os.path.isdir(home):
        subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", "{ref}", "{url}", home], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e", home], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "anywidget==0.11.0"], check=True)
    if home not in sys.path:
        sys.path.insert(0, home)
    os.chdir(os.path.join(home, "chapters", "{chapter}"))'''


def setup_cell_source(chapter: str) -> str:
    """The setup cell for a notebook in ``chapters/<chapter>/``."""
    return CELL_TEMPLATE.format(home=COLAB_HOME, ref=REF, url=REPO_URL, chapter=chapter)


def colab_url(relative_path: str) -> str:
    """The 'Open in Colab' address of a notebook, e.g. ``chapters/Chapter02/x.ipynb``."""
    owner_repo = REPO_URL.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{owner_repo}/blob/{REF}/{relative_path.replace(' ', '%20')}"


def ensure_setup_cell(nb: Any, chapter: str) -> bool:
    """Put the current setup cell right after the title cell of ``nb`` (an
    nbformat notebook); True if changed."""
    import nbformat

    source = setup_cell_source(chapter)
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith(MARKER):
            if cell.source == source:
                return False
            cell.source = source
            return True
    nb.cells.insert(1, nbformat.v4.new_code_cell(source))
    return True
