"""What the hub's class test needs, and whether this machine has it.

The test boots a real hub: it must run as root (it creates system users),
with Debian's Chromium, node and npm, and a /usr/bin/python3 that makes
virtual environments.  Outside CI a machine without them skips the test and
says which is missing; CI (``.ci/run`` sets ``TFBOOK_REQUIRE_HUB=1``) fails
instead.  Screenshots and the hub's log go to ``build/test-artifacts/hub/``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from course_tools.catalog import REPO_ROOT

REQUIRED = os.environ.get("TFBOOK_REQUIRE_HUB") == "1"
ARTIFACTS = REPO_ROOT / "build" / "test-artifacts" / "hub"
HERE = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hub: boots a real JupyterHub with student accounts (root, Chromium)")


def lacking() -> list[str]:
    """What this machine lacks for the class test."""
    missing = []
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        missing.append("root (the hub creates the students' system users)")
    if shutil.which("chromium") is None:
        missing.append("Chromium (apt-get install chromium chromium-driver)")
    if shutil.which("node") is None or shutil.which("npm") is None:
        missing.append("node and npm (apt-get install nodejs npm)")
    if shutil.which("useradd") is None or shutil.which("runuser") is None:
        missing.append("useradd and runuser")
    if shutil.which("systemd-analyze") is None:
        missing.append("systemd-analyze, to check the hub's service unit (apt-get install systemd)")
    if not Path("/usr/bin/python3").is_file() or subprocess.run(
            ["/usr/bin/python3", "-c", "import ensurepip, venv"], capture_output=True).returncode != 0:
        missing.append("/usr/bin/python3 with venv (apt-get install python3-venv)")
    return missing


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the class test, saying why, where it cannot run, except in CI
    (there its fixture fails with the same words)."""
    hub_items = [item for item in items if item.get_closest_marker("hub")]
    if not hub_items or REQUIRED or not (missing := lacking()):
        return
    for item in hub_items:
        item.add_marker(pytest.mark.skip(reason="this machine cannot run the class test: it lacks "
                                                + "; ".join(missing)))


def artefact(name: str) -> Path:
    """A path in the hub test's artefacts folder for ``name``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
