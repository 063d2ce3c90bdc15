"""Where the repository's shipped files live, and how to name them for people.

Notebooks run from their chapter folder (locally, in Colab, in a temporary
copy made by the tests), so every shipped file is found relative to this
package, never relative to the current folder.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
CHECKPOINT_DIR = REPO_ROOT / "checkpoints"


def cache_dir() -> Path:
    """The per-user cache for downloads (MNIST fallback, CIFAR-10)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tfbook"


def display_path(path: Path | str) -> str:
    """A path as a student should read it: relative to the repository or
    the current folder when possible, with ``~`` for the home folder."""
    path = Path(path).resolve()
    for base in (Path.cwd(), REPO_ROOT):
        try:
            return str(path.relative_to(base.resolve()))
        except ValueError:
            pass
    try:
        return "~/" + str(path.relative_to(Path.home().resolve()))
    except ValueError:
        return str(path)


def file_digest(path: Path | str, algorithm: str = "sha256") -> str:
    """The hex digest of a file, read in pieces (archives can be 162 MB).

    Every downloaded or shipped file is checked against a published digest
    before use, so a damaged copy stops with a message instead of feeding
    wrong numbers into a notebook.
    """
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algorithm).hexdigest()
