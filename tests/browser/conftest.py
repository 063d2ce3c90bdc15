"""Fixtures for the browser tests: Chromium, and JupyterLab / Notebook 7 on
127.0.0.1 serving a temporary copy of the repository.

Chromium is Debian's (``apt-get install chromium chromium-driver``), driven
by Playwright's Python package; ``playwright install`` is never needed.
Without Chromium the browser tests are skipped, except when
``TFBOOK_REQUIRE_BROWSER=1`` (set by CI's ``.ci/run``): then each of them
fails.

Screenshots go to ``build/test-artifacts/browser/`` (git-ignored), also of
the page as it was when a test failed.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from course_tools.catalog import REPO_ROOT
from course_tools.runner import copy_repository

from .jupyter import JupyterServer

CHROMIUM = shutil.which("chromium")
REQUIRED = os.environ.get("TFBOOK_REQUIRE_BROWSER") == "1"
MISSING = "Chromium not installed (CI installs it; locally: apt-get install chromium chromium-driver)"
ARTIFACTS = REPO_ROOT / "build" / "test-artifacts" / "browser"
HERE = Path(__file__).resolve().parent
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


def _fail_without_chromium() -> None:
    pytest.fail(f"{MISSING}, and TFBOOK_REQUIRE_BROWSER=1 requires it")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM is not None:
        return
    for index, item in enumerate(items):
        if HERE not in Path(str(item.path)).resolve().parents:
            continue
        if not REQUIRED:
            item.add_marker(pytest.mark.skip(reason=MISSING))
            continue
        # Fail in the test itself (FAILED, not an ERROR in a fixture), before
        # any server starts: the same test without its fixtures.
        replacement = pytest.Function.from_parent(item.parent, name=item.name, callobj=_fail_without_chromium)
        replacement.own_markers.extend(item.iter_markers())  # keeps -m browser working
        items[index] = replacement


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    report = yield
    setattr(item, f"report_{report.when}", report)  # for the page fixture's screenshot on failure
    return report


def artefact(name: str) -> Path:
    """A path in the artefacts folder for ``name`` (a file name)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


@pytest.fixture(scope="session")
def browser_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The copy of the repository that the Jupyter servers serve."""
    return copy_repository(tmp_path_factory.mktemp("browser") / "repo")


def _server(app: str, repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    server = JupyterServer(app=app, root_dir=repo, home=tmp_path_factory.mktemp(f"home-{app}"),
                           token=secrets.token_hex(16))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def jupyter_lab(browser_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """JupyterLab on 127.0.0.1, stopped (kernels, TensorBoards) at the end."""
    yield from _server("lab", browser_repo, tmp_path_factory)


@pytest.fixture(scope="session")
def jupyter_notebook(browser_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """Notebook 7 on 127.0.0.1, stopped at the end."""
    yield from _server("notebook", browser_repo, tmp_path_factory)


@pytest.fixture
def lab(jupyter_lab: JupyterServer) -> Iterator[JupyterServer]:
    """JupyterLab for one test: its kernels are shut down after it."""
    yield jupyter_lab
    jupyter_lab.shutdown_sessions()


@pytest.fixture
def notebook7(jupyter_notebook: JupyterServer) -> Iterator[JupyterServer]:
    """Notebook 7 for one test: its kernels are shut down after it."""
    yield jupyter_notebook
    jupyter_notebook.shutdown_sessions()


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory: pytest.TempPathFactory):
    """Headless Debian Chromium (one per session; each test gets its own page)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(dir=tmp_path_factory.getbasetemp(), prefix="chromium-"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context, request: pytest.FixtureRequest):
    """A new tab; ``page.problems`` collects page errors and console errors.
    A screenshot of it is kept when the test fails."""
    tab = browser_context.new_page()
    tab.problems = []
    tab.on("pageerror", lambda error: tab.problems.append(f"page error: {error}"))
    tab.on("console", lambda msg: tab.problems.append(f"console {msg.type}: {msg.text}")
           if msg.type == "error" else None)
    try:
        yield tab
    finally:
        failed = any(getattr(getattr(request.node, f"report_{when}", None), "failed", False)
                     for when in ("setup", "call"))
        if failed:
            try:
                tab.screenshot(path=artefact(f"FAILED-{request.node.name}.png"), full_page=True)
            except Exception:  # noqa: BLE001 - the page may be gone
                pass
        tab.close()
