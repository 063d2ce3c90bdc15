"""TensorFlow.js as the course ships it: rebuilt from npm, or checked.

``tfbook_utils/tfjs/`` holds ``package.json`` and ``package-lock.json``
(@tensorflow/tfjs pinned exactly, every package with its integrity hash),
the one bundle the course uses, ``tf.es2017.min.js`` (a classic script: it
runs from a ``<script>`` tag of a page opened from the file system, and
from a blob: URL inside a notebook widget), its licence texts (no
@tensorflow package carries a LICENSE file) and ``SHA256SUMS``.

``python -m course_tools.tfjs_vendor`` runs ``npm ci`` on the lock in a
temporary folder, copies the bundle and writes ``SHA256SUMS`` (with the
version);  ``--check`` does the same ``npm ci`` and only compares.  The
tests compare the shipped file with ``SHA256SUMS`` and the lock, offline.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .catalog import REPO_ROOT

FOLDER = REPO_ROOT / "tfbook_utils" / "tfjs"
PACKAGE = "@tensorflow/tfjs"
BUNDLE = "tf.es2017.min.js"
SUMS = FOLDER / "SHA256SUMS"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def locked_version(folder: Path = FOLDER) -> str:
    """The version of @tensorflow/tfjs that package-lock.json pins."""
    lock = json.loads((folder / "package-lock.json").read_text(encoding="utf-8"))
    return lock["packages"][f"node_modules/{PACKAGE}"]["version"]


def recorded(folder: Path = FOLDER) -> dict[str, str]:
    """``SHA256SUMS`` as {file name: sha256}; its first line names the version: ``# @tensorflow/tfjs 4.22.0``."""
    sums = {}
    for line in (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            sums["#version"] = line.split()[-1]
        elif line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.strip()] = digest
    return sums


def npm_ci(work: Path) -> Path:
    """``npm ci`` of the shipped lock in ``work``; returns the package's dist folder."""
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("tfjs_vendor: npm is not installed (apt-get install npm).")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(FOLDER / name, work / name)
    done = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=work,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        sys.exit(f"tfjs_vendor: npm ci failed:\n{done.stderr[-2000:]}")
    return work / "node_modules" / PACKAGE / "dist"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_tools.tfjs_vendor")
    parser.add_argument("--check", action="store_true", help="only compare the shipped bundle with npm's")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tfbook-tfjs-") as work:
        built = npm_ci(Path(work)) / BUNDLE
        version = locked_version()
        if args.check:
            same = sha256(built) == sha256(FOLDER / BUNDLE) == recorded()[BUNDLE]
            print(f"{BUNDLE}: {'the same as' if same else 'DIFFERENT from'} npm's {PACKAGE} {version}")
            return 0 if same else 1
        shutil.copy(built, FOLDER / BUNDLE)
    SUMS.write_text(f"# {PACKAGE} {version}\n{sha256(FOLDER / BUNDLE)}  {BUNDLE}\n", encoding="utf-8")
    print(f"copied {BUNDLE} of {PACKAGE} {version} into {FOLDER.relative_to(REPO_ROOT)}/ and wrote SHA256SUMS")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
