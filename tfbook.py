#!/usr/bin/env python3
"""tfbook's commands: ``python3 tfbook.py --help`` lists them.

Every command first makes sure ``.venv`` is set up: the first run creates it
and installs the pinned packages from pyproject.toml (a few minutes); later
runs reuse it and reinstall only when pyproject.toml changed.  Only the
Python standard library is used until ``.venv`` exists; the commands
themselves live in ``course_tools/cli.py``.
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
    if not argv or argv[0] in ("-h", "--help", "help") or in_venv():
        from course_tools.cli import main as run_command  # the standard library only, until a command runs

        return run_command(argv)
    ensure_venv()
    try:
        return subprocess.run([str(venv_python()), str(Path(__file__).resolve()), *argv]).returncode
    except KeyboardInterrupt:  # the command itself reports what it kept
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
