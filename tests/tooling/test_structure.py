"""The two wings stay apart and the catalog stays the one list of notebooks."""

from __future__ import annotations

import ast
from pathlib import Path

from course_tools import catalog
from course_tools.catalog import REPO_ROOT

SOURCES = [p for folder in ("tfbook_utils", "course_tools", "tests") for p in (REPO_ROOT / folder).rglob("*.py")]
SOURCES.append(REPO_ROOT / "tfbook.py")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_what_students_read_imports_no_tooling() -> None:
    tooling = ("course_tools", "nbclient", "nbformat", "argparse", "benchmarks")
    for path in (REPO_ROOT / "tfbook_utils").glob("*.py"):
        offending = [m for m in imported_modules(path) if m.split(".")[0] in tooling]
        assert offending == [], f"{path.name} imports {offending}"


def test_notebook_titles_are_written_only_in_the_catalog() -> None:
    for path in SOURCES:
        if path == REPO_ROOT / "course_tools" / "catalog.py":
            continue
        text = path.read_text(encoding="utf-8")
        found = [n.title for n in catalog.COURSE
                 if any(f"{q}{n.title}{q}" in text for q in ('"', "'")) or n.file_name in text]
        assert found == [], f"{path.relative_to(REPO_ROOT)} names {found}: ask the catalog instead"


def test_no_list_of_tags_outside_the_catalog() -> None:
    """Looking a notebook up by its tag is fine; a literal list of tags is a copy of the catalog."""
    tags = {n.tag for n in catalog.COURSE}
    # the 2017 notebooks, which that test runs, are named by their own tags in its vendored fixture
    exempt = {REPO_ROOT / "course_tools" / "catalog.py", REPO_ROOT / "tests" / "test_2017_code.py"}
    for path in SOURCES:
        if path in exempt:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
                items = node.keys if isinstance(node, ast.Dict) else node.elts
                listed = [i.value for i in items if isinstance(i, ast.Constant) and i.value in tags]
                assert len(listed) < 2, f"{path.relative_to(REPO_ROOT)}:{node.lineno} lists the tags {listed}"


def test_no_source_file_is_longer_than_500_lines() -> None:
    kinds = ("*.py", "*.js", "*.css", "*.toml", "*.yml", "*.yaml", "*.md", "*.sh")
    for pattern in kinds:
        for path in REPO_ROOT.glob(f"**/{pattern}"):
            if {".venv", "build", ".git", "node_modules", "fixtures"} & set(path.relative_to(REPO_ROOT).parts):
                continue  # fixtures are vendored data (a published schema, the 2017 notebooks), not our source
            if path == REPO_ROOT / "README.md":  # its contents table is generated
                continue
            lines = len(path.read_text(encoding="utf-8").splitlines())
            assert lines <= 500, f"{path.relative_to(REPO_ROOT)} has {lines} lines"
