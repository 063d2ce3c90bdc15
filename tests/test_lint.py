"""ruff keeps tfbook_utils, the course tooling and the tests tidy (students read tfbook_utils)."""

from __future__ import annotations

import subprocess
import sys

from tfbook_utils.paths import REPO_ROOT


def test_ruff_is_clean() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "tfbook_utils", "course_tools", "tests", "tfbook.py"],
        cwd=REPO_ROOT, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
