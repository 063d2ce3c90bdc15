"""Shared fixtures: a throw-away copy of the repository for notebook runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from course_tools.runner import copy_repository


@pytest.fixture(scope="session")
def repo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the repository per test session; notebooks run inside it
    so nothing is written into the tracked tree."""
    return copy_repository(tmp_path_factory.mktemp("tfbook") / "repo")
