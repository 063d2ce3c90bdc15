"""State files repair themselves, and the machine's refusals are one line:
a truncated results.json is named, set aside and rebuilt while the run goes
on; a .venv whose Python vanished is rebuilt; a closed pipe, a file where a
folder should be, a read-only checkout and a full disk each get one line
that names the path and what to do -- never a traceback."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from course_tools import catalog, contents
from course_tools.catalog import REPO_ROOT
from course_tools.files import machine_trouble, replace_all

from .course_copy import TINY, course_command, make_course_copy, through_the_wrapper
from .machine import read_only, small_disk
from .test_contents_and_cli import full_run, readme_copy
from .test_runs import finish


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_course_copy(tmp_path_factory.mktemp("state") / "repo")


def test_state_a_truncated_results_file_is_set_aside_and_the_run_records_its_results(course: Path) -> None:
    published = course / "build" / "lecture-quick"  # an earlier run published one notebook ...
    earlier = {"notebook": f"chapters/Tiny/{TINY['QKA'][0]}.ipynb", "seconds": 1.0, "error": "", "result": "first",
               "problems": []}
    (published / "records").mkdir(parents=True)
    (published / "records" / "QKA.json").write_text(json.dumps([earlier]), encoding="utf-8")
    text = json.dumps([earlier], indent=1)
    (published / "results.json").write_text(text[: len(text) // 2], encoding="utf-8")  # ... then a crash cut it
    code, out, err = finish(course_command(course, "lecture", "--quick", "QKB"))
    assert code == 0 and "Traceback" not in out + err, out + err
    said = [line for line in out.splitlines() if "results.json was damaged" in line]
    assert len(said) == 1 and "set aside as results.json.damaged-" in said[0] and "rebuilt" in said[0], out
    assert len(list(published.glob("results.json.damaged-*"))) == 1
    kept = {Path(r["notebook"]).stem: r["result"] for r in json.loads((published / "results.json").read_text())}
    assert kept == {"Quick one": "first", "Quick two": "second"}  # the earlier result rebuilt, the new one recorded
    assert "Quick one.ipynb | first" in (published / "results.md").read_text(encoding="utf-8")


def test_state_toc_names_a_damaged_results_file_and_rebuilds_it(tmp_path: Path, capsys) -> None:
    readme, build = readme_copy(tmp_path), tmp_path / "build"
    full_run(build)
    results = build / "lecture" / "results.json"
    (build / "lecture" / "records").mkdir()
    for n, record in zip(catalog.COURSE, json.loads(results.read_text(encoding="utf-8"))):
        (build / "lecture" / "records" / f"{n.tag}.json").write_text(json.dumps([record]), encoding="utf-8")
    results.write_text('[{"notebook": "chap', encoding="utf-8")
    assert contents.write_readme(readme=readme, build=build) == "README.md's contents table updated"
    assert "results.json was damaged" in capsys.readouterr().out
    assert len(json.loads(results.read_text(encoding="utf-8"))) == len(catalog.COURSE)


def test_state_a_venv_whose_python_vanished_is_rebuilt_with_one_line(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("tfbook.py", "pyproject.toml"):
        (repo / name).write_bytes((REPO_ROOT / name).read_bytes())
    venv = repo / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(tmp_path / "pyenv" / "versions" / "3.11.0" / "bin" / "python3.11")
    (venv / "pyvenv.cfg").write_text(f"version = {sys.version_info[0]}.{sys.version_info[1]}.0\n")
    (venv / ".tfbook-installed").write_text(hashlib.sha256((repo / "pyproject.toml").read_bytes()).hexdigest())
    offline = {**os.environ, "PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": ""}
    done = subprocess.run([str(Path(sys.base_prefix) / "bin" / "python3"), str(repo / "tfbook.py"), "toc"], cwd=repo,
                          env=offline, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    assert f"Rebuilding .venv: its Python {tmp_path / 'pyenv'}" in done.stdout and "is gone" in done.stdout
    assert subprocess.run([str(venv / "bin" / "python"), "-c", "pass"]).returncode == 0  # a working Python again
    # offline here, so pip cannot install the packages: that is one line too, saying what to do
    assert done.returncode == 1 and done.stderr.strip().splitlines()[-1].startswith(
        "Installing the pinned packages into .venv failed"), done.stderr


def test_state_a_closed_pipe_is_no_traceback(course: Path) -> None:
    for argv in (["toc"], ["--help"]):  # `python3 tfbook.py toc | head -1`, the reader already gone
        process = through_the_wrapper(course, *argv)
        process.stdout.close()
        err = process.stderr.read()
        process.wait(timeout=60)
        assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err, err


def one_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def lecture(repo: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "course_tools", "lecture", "--quick", "QKB"], cwd=repo, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(repo)}, capture_output=True, text=True)


def test_state_a_file_where_the_build_folder_should_be_is_one_line(tmp_path: Path) -> None:
    repo = make_course_copy(tmp_path / "repo")
    (repo / "build").write_text("not a folder")
    said = one_line(lecture(repo))
    assert f"{repo / 'build'}" in said and "a file stands where a folder should be: move that file away" in said


def test_state_a_read_only_checkout_is_one_line(tmp_path: Path) -> None:
    repo = make_course_copy(tmp_path / "repo")
    with read_only(repo):
        said = one_line(lecture(repo))
    assert f"{repo / 'build'}" in said and "Read-only file system -- run it in a writable copy" in said


def test_state_a_full_disk_during_a_run_is_one_line_and_leaves_no_run_folder(tmp_path: Path) -> None:
    repo = make_course_copy(tmp_path / "repo")
    with small_disk(repo / "build", "2m"):  # far too small for the run's copy of the repository
        said = one_line(lecture(repo))
        assert "No space left on device -- free some space" in said and str(repo / "build" / "runs") in said
        assert list((repo / "build" / "runs").iterdir()) == []


def test_state_a_missing_permission_names_the_path_and_what_to_do() -> None:
    said = machine_trouble(PermissionError(errno.EACCES, "Permission denied", "/srv/course/build"))
    assert said == ("/srv/course/build: Permission denied -- make it writable for you (`ls -ld` shows its owner), "
                    "or run as its owner")


def test_state_replacing_several_files_is_all_or_nothing(tmp_path: Path) -> None:
    """What refresh writes its notebooks with: if the second cannot be replaced, the first is put back."""
    first, second = tmp_path / "first.ipynb", tmp_path / "second.ipynb"
    first.write_text("old first")
    second.write_text("old second")
    with read_only(second):
        with pytest.raises(OSError):
            replace_all({first: b"new first", second: b"new second"})
    assert (first.read_text(), second.read_text()) == ("old first", "old second")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.ipynb", "second.ipynb"]  # nothing left over
    replace_all({first: b"new first", second: b"new second"})
    assert (first.read_text(), second.read_text()) == ("new first", "new second")
