"""tfbook.py on a Python that TensorFlow does not support: it finds a
supported one and runs itself with it, or stops before creating anything
with one line per platform saying what to install.  The interpreters here
are stand-ins on PATH: shell scripts that run this test's Python while
reporting another version (through a sitecustomize module)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tfbook_utils.paths import REPO_ROOT

pytestmark = pytest.mark.skipif(os.name == "nt", reason="the stand-in interpreters are shell scripts")

SITECUSTOMIZE = """
import os, sys
if os.environ.get("STAND_IN_VERSION"):
    major, minor = (int(n) for n in os.environ["STAND_IN_VERSION"].split("."))
    sys.version_info = (major, minor, 0, "final", 0)
    sys.version = f"{major}.{minor}.0 (a stand-in)"
if os.environ.get("STAND_IN_NO_ENSUREPIP"):
    sys.modules["ensurepip"] = None  # as on Debian without python3.X-venv
"""


class Machine:
    """A copy of tfbook.py and pyproject.toml, and a folder of stand-in interpreters that is all of PATH."""

    def __init__(self, root: Path) -> None:
        self.repo, self.bin, self.site, self.log = root / "repo", root / "bin", root / "site", root / "ran.log"
        for folder in (self.repo, self.bin, self.site):
            folder.mkdir()
        for name in ("tfbook.py", "pyproject.toml"):
            shutil.copy(REPO_ROOT / name, self.repo / name)
        (self.site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
        self.log.touch()

    def python(self, name: str, version: str, folder: Path | None = None, ensurepip: bool = True) -> Path:
        """A stand-in that answers tfbook.py's probe as Python ``version`` and logs,
        instead of running, any script it is given (exit code 7)."""
        env = f"STAND_IN_VERSION={version} PYTHONPATH='{self.site}'" + ("" if ensurepip else " STAND_IN_NO_ENSUREPIP=1")
        return self._script(folder or self.bin, name, f"""
            case "$1" in
              -c) {env} exec '{sys.executable}' "$@" ;;
            esac
            echo "{name} $*" >> '{self.log}'
            exit 7""")

    def running(self, version: str) -> Path:
        """The Python the student typed: tfbook.py really runs in it, as Python ``version``."""
        return self._script(self.bin, f"python{version}", f"""
            STAND_IN_VERSION={version} PYTHONPATH='{self.site}' exec '{sys.executable}' "$@" """)

    def uv(self, finds: str | None, installs: bool) -> Path:
        """A stand-in uv: `uv python find` prints ``finds`` (after a successful
        `uv python install` when ``installs``), or fails as offline."""
        marker = self.bin.parent / "uv-installed"
        find = f"echo '{finds}'; exit 0" if finds else "exit 2"
        if installs:
            find = f'if [ -f "{marker}" ]; then {find}; fi; exit 2'
        return self._script(self.bin, "uv", f"""
            echo "uv $*" >> '{self.log}'
            case "$2" in
              find) {find} ;;
              install) {f": > '{marker}'; exit 0" if installs else "echo 'error: no internet' >&2; exit 1"} ;;
            esac
            exit 2""")

    def run(self, running: Path, *argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(running), str(self.repo / "tfbook.py"), *argv],
            env={"PATH": str(self.bin), "HOME": str(self.bin.parent)},
            capture_output=True, text=True, timeout=120,
        )

    def ran(self) -> list[str]:
        return self.log.read_text(encoding="utf-8").splitlines()

    @staticmethod
    def _script(folder: Path, name: str, body: str) -> Path:
        path = folder / name
        path.write_text("#!/bin/sh\n" + "\n".join(line.strip() for line in body.strip().splitlines()) + "\n")
        path.chmod(0o755)
        return path


@pytest.fixture()
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


def supported() -> list[str]:
    spec = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    low, high = re.fullmatch(r">=3\.(\d+),<3\.(\d+)", spec).groups()
    return [f"3.{minor}" for minor in range(int(low), int(high))]


def test_the_supported_range_is_tensorflows() -> None:
    assert supported() == ["3.11", "3.12", "3.13"]


def test_python_3_14_hands_the_command_to_python_3_13(machine: Machine) -> None:
    machine.python("python3.13", "3.13")
    done = machine.run(machine.running("3.14"), "lab")
    assert machine.ran() == [f"python3.13 {machine.repo / 'tfbook.py'} lab"]
    assert done.returncode == 7  # the exit code of the run by Python 3.13
    assert "This is Python 3.14.0; using" in done.stdout and "python3.13 instead" in done.stdout
    assert not (machine.repo / ".venv").exists()


def test_the_newest_supported_python_is_preferred(machine: Machine) -> None:
    for version in ("3.11", "3.12", "3.13"):
        machine.python(f"python{version}", version)
    machine.run(machine.running("3.14"), "test")
    assert [line.split()[0] for line in machine.ran()] == ["python3.13"]


def test_a_python_without_venv_support_is_passed_over(machine: Machine) -> None:
    machine.python("python3.13", "3.13", ensurepip=False)
    machine.python("python3.11", "3.11")
    machine.run(machine.running("3.14"), "lab")
    assert [line.split()[0] for line in machine.ran()] == ["python3.11"]


def test_python3_on_path_is_tried_under_its_plain_name(machine: Machine) -> None:
    machine.python("python3", "3.12")
    machine.run(machine.running("3.14"), "lab")
    assert [line.split()[0] for line in machine.ran()] == ["python3"]


@pytest.mark.parametrize("version", ["3.14", "3.10"], ids=["too new", "too old"])
def test_without_a_supported_python_it_stops_before_creating_anything(machine: Machine, version: str) -> None:
    machine.python("python3.9", "3.9")
    done = machine.run(machine.running(version), "lab")
    assert done.returncode == 1 and machine.ran() == []
    lines = done.stderr.splitlines()
    assert lines[0].startswith("tfbook needs Python 3.11, 3.12 or 3.13 (the versions TensorFlow 2.21 has packages for)")
    assert f"This is Python {version}.0" in lines[0]
    platforms = {line.split(":")[0].strip(): line for line in lines[1:]}
    assert set(platforms) == {"Windows", "macOS", "Linux", "any"}
    assert "python.org" in platforms["Windows"] and "brew install python@3.13" in platforms["macOS"]
    assert "sudo apt install python3.13-venv" in platforms["Linux"] and "uv python install 3.13" in platforms["any"]
    assert sorted(p.name for p in machine.repo.iterdir()) == ["pyproject.toml", "tfbook.py"]  # nothing created


def test_a_supported_python_without_venv_support_says_so(machine: Machine) -> None:
    running = machine._script(machine.bin, "python3.12", f"""
        STAND_IN_VERSION=3.12 STAND_IN_NO_ENSUREPIP=1 PYTHONPATH='{machine.site}' exec '{sys.executable}' "$@" """)
    done = machine.run(running, "lab")
    assert done.returncode == 1
    assert "This Python 3.12.0 cannot make a .venv (its venv module lacks ensurepip)" in done.stderr
    assert not (machine.repo / ".venv").exists()


def test_the_range_is_read_from_pyproject(machine: Machine) -> None:
    pyproject = machine.repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace("<3.14", "<3.13"), encoding="utf-8")
    machine.python("python3.13", "3.13")
    done = machine.run(machine.running("3.14"), "lab")
    assert done.returncode == 1 and machine.ran() == []
    assert "needs Python 3.11 or 3.12 " in done.stderr and "brew install python@3.12" in done.stderr


def test_uv_finds_a_supported_python(machine: Machine, tmp_path: Path) -> None:
    elsewhere = tmp_path / "uv-pythons"
    elsewhere.mkdir()
    found = machine.python("python3.12", "3.12", folder=elsewhere)  # not on PATH: only uv knows it
    machine.uv(finds=str(found), installs=False)
    done = machine.run(machine.running("3.14"), "lab")
    assert machine.ran() == ["uv python find >=3.11,<3.14", f"python3.12 {machine.repo / 'tfbook.py'} lab"]
    assert done.returncode == 7


def test_uv_installs_one_when_it_has_none(machine: Machine, tmp_path: Path) -> None:
    elsewhere = tmp_path / "uv-pythons"
    elsewhere.mkdir()
    installed = machine.python("python3.13", "3.13", folder=elsewhere)
    machine.uv(finds=str(installed), installs=True)
    done = machine.run(machine.running("3.14"), "lab")
    assert machine.ran()[:3] == ["uv python find >=3.11,<3.14", "uv python install 3.13", "uv python find >=3.11,<3.14"]
    assert machine.ran()[3].startswith("python3.13 ") and done.returncode == 7
    assert "Asking uv to install Python 3.13" in done.stdout


def test_uv_offline_still_gets_the_lines_and_a_reason(machine: Machine) -> None:
    machine.uv(finds=None, installs=False)
    done = machine.run(machine.running("3.14"), "lab")
    assert done.returncode == 1
    assert "Windows:" in done.stderr and "macOS:" in done.stderr and "Linux:" in done.stderr
    assert done.stderr.splitlines()[-1] == (
        "(uv is installed but could not install Python 3.13: is this computer offline?)"
    )
    assert not (machine.repo / ".venv").exists()


def fake_venv(machine: Machine, version: str) -> None:
    """A .venv made by Python ``version``, installed for this pyproject.toml, whose python is a stand-in."""
    venv = machine.repo / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = /usr/bin\nversion = {version}.0\n", encoding="utf-8")
    digest = hashlib.sha256((machine.repo / "pyproject.toml").read_bytes()).hexdigest()
    (venv / ".tfbook-installed").write_text(digest + "\n", encoding="utf-8")
    machine.python("python", version, folder=venv / "bin")


def test_a_ready_venv_is_used_whatever_python_runs_the_command(machine: Machine) -> None:
    fake_venv(machine, "3.12")
    done = machine.run(machine.running("3.14"), "lab")
    assert machine.ran() == [f"python {machine.repo / 'tfbook.py'} lab"] and done.returncode == 7
    assert "using" not in done.stdout


def test_a_venv_made_by_an_unsupported_python_is_not_used(machine: Machine) -> None:
    fake_venv(machine, "3.14")  # made by an earlier attempt with Python 3.14
    machine.python("python3.13", "3.13")
    machine.run(machine.running("3.14"), "lab")
    assert [line.split()[0] for line in machine.ran()] == ["python3.13"]


def test_ensure_venv_recreates_a_venv_made_by_an_unsupported_python(tmp_path, monkeypatch, capsys) -> None:
    sys.path.insert(0, str(REPO_ROOT))
    try:
        import tfbook
    finally:
        sys.path.remove(str(REPO_ROOT))
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    (venv / "pyvenv.cfg").write_text("version = 3.14.0\n", encoding="utf-8")
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    created, installed = [], []

    class Builder:
        def __init__(self, with_pip: bool) -> None:
            assert with_pip

        def create(self, folder: Path) -> None:
            created.append(sorted(p.name for p in Path(folder).iterdir()) if Path(folder).exists() else [])
            (Path(folder) / "bin").mkdir(parents=True)
            (Path(folder) / "bin" / "python").touch()

    monkeypatch.setattr(tfbook, "ROOT", tmp_path)
    monkeypatch.setattr(tfbook, "VENV", venv)
    monkeypatch.setattr(tfbook, "STAMP", venv / ".tfbook-installed")
    monkeypatch.setattr(tfbook.venv, "EnvBuilder", Builder)
    monkeypatch.setattr(tfbook.subprocess, "run",
                        lambda command: installed.append(command) or subprocess.CompletedProcess(command, 0))
    tfbook.ensure_venv()
    assert "Recreating .venv: it was made by Python 3.14" in capsys.readouterr().out
    assert created == [[]]  # the old .venv was removed first
    assert len(installed) == 2 and (venv / ".tfbook-installed").is_file()


def test_readme_says_which_pythons_work() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    versions = supported()
    japanese = readme.split("## クイックスタート")[1].split("\n## ")[0]
    english = readme.split("## The two commands")[1].split("\n## ")[0]
    for section in (japanese, english):
        assert f"Python {versions[0]}–{versions[-1]}" in section
        assert "uv" in section and "py" in section


def test_tfbook_py_parses_as_python_3_8() -> None:
    """An old Python must get far enough to say what to install."""
    import ast

    ast.parse((REPO_ROOT / "tfbook.py").read_text(encoding="utf-8"), feature_version=(3, 8))
