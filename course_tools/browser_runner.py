"""Run a notebook that needs a browser: JupyterLab in headless Chromium.

Some notebooks compute in the browser (the catalog marks them
``browser=True``: TensorFlow.js trains inside a widget), so a kernel alone
(nbclient) cannot run them.  ``execute_in_browser`` does what a student
does: JupyterLab on 127.0.0.1 (token, every per-user folder in a temporary
one) serving the run's copy of the repository, the notebook opened in
Debian's Chromium (driven by Playwright), Run All from the menu, a wait
until every cell has run or one failed, File > Save, and the saved file
read back.  The result is the same ``NotebookRun`` as ``runner.execute``
gives, so ``lecture``, ``refresh`` and the tests treat both alike.

Quick mode writes the quick version (``quick.py``) into the copy and sets
``TFBOOK_QUICK_BATCHES`` for the kernel, which the browser training reads.
The server, its kernel and Chromium are stopped at the end, also on an
error or SIGTERM.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import checks
from .quick import quick_version
from .runner import NotebookRun, kernel_env, kernel_usage

QUICK_BATCHES = 60  # batches a quick run trains in the browser (40 reached 0.67 to 0.84)
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
ERROR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
SETTINGS = {  # no news or update pop-up; every cell in the DOM (so every prompt can be read)
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}
PROMPTS = """(sel) => [...document.querySelectorAll(sel + ' .jp-CodeCell .jp-InputArea-prompt')]
    .map((e) => e.textContent.includes('*') ? -1
        : parseInt((e.textContent.match(/\\[(\\d+)\\]/) || [0, '0'])[1], 10))"""
KERNEL_READY = """(sel) => {
    const panel = document.querySelector(sel);
    const name = panel && panel.querySelector('.jp-KernelName, .jp-Toolbar-kernelName');
    const status = panel && panel.querySelector('.jp-Notebook-ExecutionIndicator');
    return !!(name && /python/i.test(name.textContent) && status && status.dataset.status === 'idle');
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Lab:
    """JupyterLab on loopback with a token, its per-user folders under ``home``."""

    def __init__(self, root: Path, home: Path, env: dict[str, str]) -> None:
        self.root, self.home, self.token, self.port = root, home, secrets.token_hex(16), _free_port()
        settings = home / "config" / "lab" / "user-settings"
        for name, values in SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(values), encoding="utf-8")
        env = {k: v for k, v in env.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
        env.update(HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
                   JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(settings),
                   JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), IPYTHONDIR=str(home / "ipython"),
                   PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]))
        command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                   f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
                   "--ServerApp.terminals_enabled=False", "--LabApp.extension_manager=readonly"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--ServerApp.allow_root=True")
        with open(home / "jupyterlab.log", "ab") as log:
            self.process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 90
        while True:
            try:
                self.api("api/status")
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("JupyterLab did not start (see its log)") from None
                time.sleep(0.25)

    def api(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def url(self, relative: str) -> str:
        return f"http://127.0.0.1:{self.port}/lab/tree/{quote(relative)}?reset&token={self.token}"

    def kernel_pid(self) -> int | None:
        """The pid of the (one) kernel, found by its connection file on the command line."""
        ids = [s["kernel"]["id"] for s in self.api("api/sessions")]
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                if any(f"kernel-{i}.json" in (proc / "cmdline").read_text(errors="replace") for i in ids):
                    return int(proc.name)
            except OSError:
                continue
        return None

    def stop(self) -> None:
        try:
            self.api("api/shutdown", method="POST")
            self.process.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except OSError:
            pass
        self.process.wait()


def _prepare(notebook: Path, quick: bool, quick_steps: int | None) -> Any:
    """The notebook as it will run: quick version if asked, no old outputs."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    runnable = quick_version(nb, quick_steps) if quick else nb
    for cell in runnable.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(runnable, notebook)
    return nb


def _run_all(page: Any) -> None:
    """Run > Run All Cells, again if no cell started (a click can land before the kernel is connected)."""
    for _ in range(3):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').first.click()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            numbers = page.evaluate(PROMPTS, PANEL)
            if -1 in numbers or max([0, *numbers]) > 0:
                return
            page.wait_for_timeout(200)
        page.keyboard.press("Escape")
    raise RuntimeError("Run All started no cell")


def _wait_for_run(page: Any, seconds: float, watch: Callable[[Any], None] | None) -> str:
    """Until every cell has run, or one failed; '' or why not.  ``seconds``
    is per cell, as nbclient's timeout: the clock restarts when a cell ends."""
    deadline, finished = time.monotonic() + seconds, 0
    while True:
        numbers = page.evaluate(PROMPTS, PANEL)
        if numbers and -1 not in numbers and (min(numbers) > 0 or page.locator(f"{PANEL} {ERROR}").count()):
            return ""
        if watch is not None:
            watch(page)
        if sum(n > 0 for n in numbers) > finished:
            deadline, finished = time.monotonic() + seconds, sum(n > 0 for n in numbers)
        if time.monotonic() > deadline:
            return f"a cell ran longer than {seconds:.0f} s in the browser and the run was stopped"
        page.wait_for_timeout(500)


def _save(page: Any, path: Path, since: float) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
    page.locator('.lm-Menu-item[data-command="docmanager:save"]').first.click()
    deadline = time.monotonic() + 30
    while path.stat().st_mtime < since and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)  # the file is written in one go, but give the rename a moment


def execute_in_browser(notebook: Path, workdir: Path, quick: bool, timeout: int = 3600,
                       quick_steps: int | None = None, repeated_tags: tuple[str, ...] = (),
                       watch: Callable[[Any], None] | None = None) -> NotebookRun:
    """Run ``notebook`` (inside ``workdir``, a copy of the repository) in
    JupyterLab in headless Chromium; ``watch(page)`` is called while it runs."""
    import nbformat

    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    relative = notebook.relative_to(workdir).as_posix()
    if chromium is None or sync_playwright is None:
        return NotebookRun(notebook=relative, error="this notebook computes in a browser: install Chromium "
                           "(apt-get install chromium) and Playwright (pip install -e .[test]), then run it again")
    original = _prepare(notebook, quick, quick_steps)
    run = NotebookRun(notebook=relative)
    env = kernel_env(quick, workdir)
    env.pop("TFBOOK_HEADLESS")  # a browser is there
    env.pop("MPLBACKEND", None)
    if quick:
        env["TFBOOK_QUICK_BATCHES"] = str(QUICK_BATCHES)
    # SIGTERM (runs.py stopping its child) must still stop the server and Chromium below
    main = threading.current_thread() is threading.main_thread()  # (signals can be set there only)
    previous = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt())) if main else None
    home = Path(tempfile.mkdtemp(prefix="tfbook-lab-"))
    start = time.perf_counter()
    lab = None
    try:
        lab = _Lab(workdir, home, env)
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(home / "chromium"), executable_path=chromium, headless=True, args=FLAGS,
                viewport={"width": 1400, "height": 1000})
            try:
                page = context.new_page()
                page.goto(lab.url(relative), wait_until="domcontentloaded")
                page.wait_for_function(KERNEL_READY, arg=PANEL, timeout=90_000)
                pid_file = os.environ.get("TFBOOK_KERNEL_PID_FILE")
                if pid_file:
                    Path(pid_file).write_text(str(lab.process.pid))  # runs.py kills its group if need be
                saved_since = time.time()
                _run_all(page)
                run.error = _wait_for_run(page, timeout, watch)
                run.peak_mb, run.cpu_s = kernel_usage(lab.kernel_pid())
                _save(page, notebook, saved_since)
            finally:
                context.close()
    finally:
        run.seconds = time.perf_counter() - start
        if lab is not None:
            lab.stop()
        shutil.rmtree(home, ignore_errors=True)
        if main:
            signal.signal(signal.SIGTERM, previous)
    executed = nbformat.read(notebook, as_version=4)
    for cell in executed.cells:  # the students' source, not the shortened one
        cell.metadata.pop("execution", None)
    for mine, theirs in zip(executed.cells, original.cells):
        mine.source = theirs.source
    executed.metadata = original.metadata  # not JupyterLab's kernelspec of this machine
    errors = [text for cell in executed.cells if cell.cell_type == "code"
              for kind, text in checks.outputs_text(cell) if kind == "error"]
    run.error = run.error or (errors[0][:300] if errors else "")
    run.executed = executed
    run.result = checks.final_result(executed)
    run.problems = checks.tag_problems(original, repeated_tags) + checks.output_problems(executed)
    return run
