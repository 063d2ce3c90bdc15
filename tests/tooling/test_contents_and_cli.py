"""The README's contents table and the command line: the table is written
all or nothing, and commands that run no TensorFlow do not load it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from course_tools import catalog, cli, contents
from course_tools.catalog import REPO_ROOT


def full_run(build: Path, skip: int | None = None) -> None:
    records = [{"notebook": n.relative_path, "result": f"accuracy 0.9{i:03d}", "seconds": 60.0 * (i + 1),
                "error": "", "problems": []} for i, n in enumerate(catalog.COURSE) if i != skip]
    (build / "lecture").mkdir(parents=True, exist_ok=True)
    (build / "lecture" / "results.json").write_text(json.dumps(records), encoding="utf-8")


def readme_copy(tmp_path: Path) -> Path:
    readme = tmp_path / "README.md"
    readme.write_text((REPO_ROOT / "README.md").read_text(encoding="utf-8"), encoding="utf-8")
    return readme


def test_toc_writes_one_row_per_notebook_with_its_result(tmp_path: Path) -> None:
    readme = readme_copy(tmp_path)
    full_run(tmp_path / "build")
    assert contents.write_readme(readme=readme, build=tmp_path / "build") == "README.md's contents table updated"
    text = readme.read_text(encoding="utf-8")
    table = text.split(contents.BEGIN)[1].split(contents.END)[0]
    rows = [line for line in table.splitlines() if line.startswith("| Chapter") or line.startswith("| chapters")]
    assert len(rows) == len(catalog.COURSE)
    assert "accuracy 0.9004" in table
    total = sum(60.0 * (i + 1) for i in range(len(catalog.COURSE)))
    assert f"all {total:,.0f} s" in table
    assert contents.write_readme(check_only=True, readme=readme, build=tmp_path / "build") == \
        "README.md's contents table is up to date"


def test_toc_refuses_to_blank_the_table_without_a_full_run(tmp_path: Path) -> None:
    readme = readme_copy(tmp_path)
    skipped = catalog.COURSE[3]
    without_its_row = "\n".join(line for line in readme.read_text(encoding="utf-8").splitlines()
                                if contents.link(skipped) not in line) + "\n"
    readme.write_text(without_its_row, encoding="utf-8")
    with pytest.raises(contents.NotReady, match="no full run yet"):
        contents.write_readme(readme=readme, build=tmp_path / "build")
    full_run(tmp_path / "build", skip=3)
    with pytest.raises(contents.NotReady, match=skipped.title):
        contents.write_readme(readme=readme, build=tmp_path / "build")
    assert readme.read_text(encoding="utf-8") == without_its_row


def test_toc_keeps_the_row_of_a_notebook_the_last_run_left_out(tmp_path: Path) -> None:
    """A maintainer refreshes one notebook: the others keep the rows of their earlier full runs."""
    readme = readme_copy(tmp_path)
    full_run(tmp_path / "build")
    contents.write_readme(readme=readme, build=tmp_path / "build")
    kept = catalog.COURSE[3]
    kept_row = next(line for line in readme.read_text(encoding="utf-8").splitlines() if contents.link(kept) in line)
    records = json.loads((tmp_path / "build" / "lecture" / "results.json").read_text(encoding="utf-8"))
    records = [dict(r, result="accuracy 0.5000") for r in records if r["notebook"] != kept.relative_path]
    (tmp_path / "build" / "lecture" / "results.json").write_text(json.dumps(records), encoding="utf-8")
    assert contents.write_readme(readme=readme, build=tmp_path / "build") == "README.md's contents table updated"
    table = readme.read_text(encoding="utf-8").split(contents.BEGIN)[1].split(contents.END)[0]
    assert kept_row in table.splitlines()
    assert table.count("accuracy 0.5000") == len(catalog.COURSE) - 1
    total = sum(60.0 * (i + 1) for i in range(len(catalog.COURSE)))
    assert f"all about {total / 60:.0f} minutes" in table  # kept rows hold tenths of a minute, not seconds


def light_command(*argv: str) -> subprocess.CompletedProcess:
    """Run a command of the CLI and report whether TensorFlow got imported."""
    code = ("import atexit, sys; from course_tools import cli\n"
            "atexit.register(lambda: print('TF LOADED' if 'tensorflow' in sys.modules else 'TF NOT LOADED'))\n"
            "sys.exit(cli.main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *argv], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("argv", [["--help"], ["toc", "--check"], ["lecture", "--help"], ["nonsense"]])
def test_light_commands_never_load_tensorflow(argv: list[str]) -> None:
    done = light_command(*argv)
    assert "TF NOT LOADED" in done.stdout, done.stdout + done.stderr


def test_help_lists_every_command() -> None:
    for name in cli.COMMANDS:
        assert f"\n  {name} " in "\n" + cli.usage()


def test_the_bootstrap_prints_help_with_any_python() -> None:
    done = subprocess.run([sys.executable, str(REPO_ROOT / "tfbook.py"), "--help"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0
    assert all(name in done.stdout for name in cli.COMMANDS)


def test_names_are_matched_exactly() -> None:
    assert [n.tag for n in catalog.select(["CNN"])] == ["CNN"]  # not the batch-norm CNN too
    assert [n.tag for n in catalog.select(["mse"])] == ["MSE"]  # not the MSE exercise
    assert catalog.select([catalog.by_tag("HWR").file_name]) == [catalog.by_tag("HWR")]
    assert {n.chapter for n in catalog.select(["Chapter05"])} == {"Chapter05"}
    with pytest.raises(ValueError, match="No notebook is called cn"):
        catalog.select(["CN"])
