"""The install: one set of pins, two ways to install them, and the two commands."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

from tfbook_utils.paths import REPO_ROOT


def normalise(requirement: str) -> str:
    return re.sub(r"\s+", "", requirement.split("#")[0]).replace('"', "'")


def test_environment_yml_pins_exactly_the_pyproject_runtime_pins() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pinned = {normalise(r) for r in pyproject["project"]["dependencies"]}
    yml_lines = (REPO_ROOT / "environment.yml").read_text(encoding="utf-8").splitlines()
    pip_lines = [normalise(line.strip()[2:]) for line in yml_lines if line.startswith("      - ")]
    assert "-e." in pip_lines
    assert {line for line in pip_lines if line != "-e."} == pinned
    assert all("==" in r for r in pinned), "every runtime dependency is pinned"


def test_environment_yml_comments_every_package_line() -> None:
    lines = (REPO_ROOT / "environment.yml").read_text(encoding="utf-8").splitlines()
    skip = ("- pip", "- pip:", "- conda-forge")
    uncommented = [
        line
        for before, line in zip([""] + lines, lines)
        if line.strip().startswith("- ") and line.strip() not in skip
        and "#" not in line and not before.strip().startswith("#")
    ]
    assert not uncommented


def test_installed_versions_are_the_pinned_ones() -> None:
    from importlib.metadata import version

    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for requirement in pyproject["project"]["dependencies"]:
        spec, _, marker = requirement.partition(";")
        name, pinned = spec.strip().split("==")
        machine_is_x86 = __import__("platform").machine() in ("x86_64", "AMD64")
        if marker and (("!=" in marker) == machine_is_x86):
            continue  # the other TensorFlow flavour
        assert version(name) == pinned, name


def test_package_imports_from_any_folder(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import tfbook_utils.mnist, tfbook_utils.orenist; print('ok')"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.stdout.strip() == "ok", done.stderr


def test_readme_names_the_two_commands() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "python3 tfbook.py lecture" in readme
    assert "python3 tfbook.py test" in readme
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "tfbook.py test" in ci
