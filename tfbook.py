#!/usr/bin/env python3
"""tfbook's commands.  Each one first makes sure ``.venv`` is set up.

    python3 tfbook.py lecture [--quick] [NAME ...]   run the lecture headless, print the results table
    python3 tfbook.py test [PYTEST ARGS ...]         run the test suite
    python3 tfbook.py lab                            open JupyterLab on chapters/
    python3 tfbook.py refresh [NAME ...]             (maintainers) re-run notebooks in place, full length
    python3 tfbook.py ship-checkpoints               (maintainers) copy the last full run's checkpoints
    python3 tfbook.py bench                          measure training speed, load and restore times

NAME picks notebooks by file name or tag (for example ``MSE`` or ``Chapter05``).
The first run creates ``.venv`` and installs the pinned packages from
pyproject.toml (a few minutes); later runs reuse it and reinstall only when
pyproject.toml changed.  Only the Python standard library is used until
``.venv`` exists.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".tfbook-installed"
BUILD = ROOT / "build"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv() -> None:
    """Create .venv and install tfbook (editable) with its test extras, once
    per version of pyproject.toml."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.is_file() and STAMP.read_text().strip() == wanted and venv_python().is_file():
        return
    if sys.version_info < (3, 11):
        sys.exit(f"tfbook needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not venv_python().is_file():
        print("Creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("Installing the pinned packages into .venv (first time: a few minutes) ...", flush=True)
    pip = [str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["--upgrade", "pip"], check=True)
    subprocess.run(pip + ["-e", f"{ROOT}[test]"], check=True)
    STAMP.write_text(wanted + "\n")


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    if not in_venv():
        ensure_venv()
        return subprocess.run([str(venv_python()), str(Path(__file__).resolve()), *argv]).returncode
    from tfbook_utils import commands

    return commands.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
