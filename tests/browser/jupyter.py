"""A Jupyter server on loopback and the few page actions a student makes.

``JupyterServer`` starts JupyterLab or Notebook 7 on 127.0.0.1 with a token,
serving a temporary copy of the repository, with every per-user folder
(HOME, Jupyter config / runtime / settings, IPython, TMPDIR) inside a
temporary folder, and stops it and everything it started.

The page helpers work in both front ends (Notebook 7 is built from
JupyterLab's parts): open a notebook, wait until its kernel is ready, Run
All from the menu as a student would, wait until the run is over.
"""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import nbformat
from playwright.sync_api import Locator, Page

from course_tools import catalog, quick

SERVER_START_S = 90
KERNEL_READY_MS = 60_000
RUN_STARTED_S = 20
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
ERROR_OUTPUT = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'

# JupyterLab's user settings: no news or update pop-up (they would also go to
# the internet), and every cell attached to the page so none is left out of
# the DOM while the helpers wait on it.
USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class JupyterServer:
    """``app`` is "lab" (JupyterLab) or "notebook" (Notebook 7)."""

    app: str
    root_dir: Path
    home: Path
    token: str
    port: int = 0
    process: subprocess.Popen | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.home / f"jupyter-{self.app}.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def runtime_dir(self) -> Path:
        return self.home / "runtime"

    @property
    def tmp_dir(self) -> Path:
        return self.home / "tmp"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "TFBOOK_", "IPYTHON"))}
        config = self.home / ".jupyter"
        env.update(
            HOME=str(self.home),
            JUPYTER_CONFIG_DIR=str(config),
            JUPYTER_DATA_DIR=str(self.home / "data"),
            JUPYTER_RUNTIME_DIR=str(self.runtime_dir),
            JUPYTERLAB_SETTINGS_DIR=str(config / "lab" / "user-settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(config / "lab" / "workspaces"),
            IPYTHONDIR=str(self.home / "ipython"),
            TMPDIR=str(self.tmp_dir),  # also where %tensorboard keeps its info files
            # the kernels import the copy's tfbook_utils (so it finds the copy's
            # checkpoints/), not the editable install of the working tree
            PYTHONPATH=os.pathsep.join([str(self.root_dir), *filter(None, [os.environ.get("PYTHONPATH")])]),
            PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            TF_CPP_MIN_LOG_LEVEL="2",
            PYDEVD_DISABLE_FILE_VALIDATION="1",
        )
        env.pop("MPLBACKEND", None)  # the kernel's inline default, as for a student
        try:  # reuse matplotlib's font cache instead of rebuilding it in the new HOME
            import matplotlib

            env.setdefault("MPLCONFIGDIR", matplotlib.get_cachedir())
        except Exception:  # noqa: BLE001 - only an optimisation
            pass
        return env

    def prepare_home(self) -> None:
        for folder in (self.runtime_dir, self.tmp_dir, self.home / "ipython", self.home / "data"):
            folder.mkdir(parents=True, exist_ok=True)
        settings = self.home / ".jupyter" / "lab" / "user-settings"
        for name, values in USER_SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values), encoding="utf-8")

    def command(self) -> list[str]:
        module = {"lab": "jupyterlab", "notebook": "notebook"}[self.app]
        cmd = [
            sys.executable, "-m", module,
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            "--ServerApp.terminals_enabled=False",
        ]
        if self.app == "lab":
            cmd.append("--LabApp.extension_manager=readonly")  # no PyPI listing
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--ServerApp.allow_root=True")
        return cmd

    def start(self) -> None:
        self.prepare_home()
        for attempt in range(3):
            self.port = free_port()
            with open(self.log_path, "ab") as log:
                self.process = subprocess.Popen(
                    self.command(), cwd=self.root_dir, env=self.environment(),
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                )
            if self._wait_until_up():
                return
            self.stop()
            if attempt == 2:
                raise RuntimeError(f"Jupyter {self.app} did not start; its log:\n{self.log_tail()}")

    def _wait_until_up(self) -> bool:
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                self.api("api/status")
                return True
            except (OSError, urllib.error.URLError):
                time.sleep(0.25)
        return False

    def api(self, path: str, method: str = "GET", timeout: float = 10) -> object:
        request = urllib.request.Request(
            f"{self.base_url}/{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}?token={self.token}"

    def notebook_url(self, relative: str) -> str:
        if self.app == "lab":
            # ?reset: start from an empty workspace, not the tabs of the last test
            return f"{self.base_url}/lab/tree/{quote(relative)}?reset&token={self.token}"
        return f"{self.base_url}/notebooks/{quote(relative)}?token={self.token}"

    def connection_file(self, notebook: str) -> Path:
        """The connection file of the kernel of the session of ``notebook``
        (a path relative to the root), for a jupyter_client."""
        for session in self.api("api/sessions"):
            if session.get("path") == notebook:
                return self.runtime_dir / f"kernel-{session['kernel']['id']}.json"
        raise LookupError(f"no kernel session for {notebook}")

    def shutdown_sessions(self) -> None:
        """Shut down every notebook's kernel (frees CPU and memory between tests)."""
        try:
            for session in self.api("api/sessions"):
                self.api(f"api/sessions/{session['id']}", method="DELETE", timeout=30)
        except (OSError, urllib.error.URLError):
            pass

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Shut down cleanly (kernels included); kill what is left."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            try:
                self.api("api/shutdown", method="POST", timeout=5)
            except (OSError, urllib.error.URLError):
                pass
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)  # the server's own process group
                except OSError:
                    pass
                process.wait(timeout=10)
        self.stop_tensorboards()
        self.process = None

    def stop_tensorboards(self) -> None:
        """TensorBoard servers started by ``%tensorboard`` in this server's
        kernels outlive them; their info files (in our TMPDIR) name them."""
        for info in (self.tmp_dir / ".tensorboard-info").glob("pid-*.info"):
            try:
                pid = int(json.loads(info.read_text(encoding="utf-8"))["pid"])
                os.kill(pid, signal.SIGTERM)
            except (OSError, ValueError, KeyError):
                pass


def write_quick_notebook(repo: Path, relative: str) -> None:
    """Replace ``relative`` in the copy by its quick version (loops cut to
    the catalog's quick length), outputs cleared so only this run's show."""
    path = repo / relative
    steps = next(n.quick_steps for n in catalog.COURSE if n.relative_path == relative)
    nb = quick.quick_version(nbformat.read(path, as_version=4), steps)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.write(nb, path)


def open_notebook(page: Page, server: JupyterServer, relative: str) -> Locator:
    """Open ``relative`` and wait until its kernel is started and idle."""
    page.goto(server.notebook_url(relative), wait_until="domcontentloaded")
    panel = page.locator(PANEL).first
    panel.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=KERNEL_READY_MS)
    # idle alone is not enough: the indicator says idle while the kernel
    # name still reads "No Kernel", and Run All would then run nothing
    page.wait_for_function(
        """(sel) => {
            const panel = document.querySelector(sel);
            if (!panel) return false;
            const name = panel.querySelector('.jp-KernelName, .jp-Toolbar-kernelName');
            const status = panel.querySelector('.jp-Notebook-ExecutionIndicator');
            const named = name && /python/i.test(name.textContent);
            return named && status && status.getAttribute('data-status') === 'idle';
        }""",
        arg=PANEL,
        timeout=KERNEL_READY_MS,
    )
    return panel


def prompt_numbers(page: Page) -> list[int]:
    """Each code cell's prompt as a number: ``[3]`` is 3, ``[ ]`` is 0, and
    ``[*]`` (waiting or running) is -1. The one place the prompts are read."""
    return page.evaluate(
        """(sel) => [...document.querySelectorAll(sel + ' .jp-CodeCell .jp-InputArea-prompt')]
            .map((e) => e.textContent.includes('*') ? -1
                : parseInt((e.textContent.match(/\\[(\\d+)\\]/) || [0, '0'])[1], 10))""",
        PANEL,
    )


def last_execution_count(page: Page) -> int:
    """The highest ``[n]`` shown in the notebook (0 before anything ran)."""
    return max([0, *prompt_numbers(page)])


def run_all(page: Page, attempts: int = 3) -> None:
    """Run → Run All Cells, from the menu bar, until a cell has started.

    A click can land while JupyterLab is still connecting the panel to its
    kernel and then runs nothing (seen in CI: every cell ``[ ]``, the kernel
    idle, the wait for the run timing out ten minutes later). So when no cell
    shows ``[*]`` or a new number within a few seconds the menu is used
    again; a run that started is never sent twice.
    """
    before = last_execution_count(page)
    for _ in range(attempts):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').first.click()
        deadline = time.monotonic() + RUN_STARTED_S
        while time.monotonic() < deadline:
            numbers = prompt_numbers(page)
            if -1 in numbers or max([0, *numbers]) > before:
                return
            page.wait_for_timeout(100)
        page.keyboard.press("Escape")  # a menu left open would swallow the next click
    raise AssertionError(f"Run All started no cell in {attempts} tries")


def wait_for_run(page: Page, timeout_ms: int, after: int = 0) -> None:
    """Until something ran (a cell numbered above ``after``, the count before
    the run), no cell waits or runs, and every code cell has run or one failed."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        numbers = prompt_numbers(page)
        if numbers and -1 not in numbers and max(numbers) > after:
            if min(numbers) > 0 or page.locator(f"{PANEL} {ERROR_OUTPUT}").count() > 0:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"the run did not end within {timeout_ms / 1000:.0f} s (prompts: {numbers})")
        page.wait_for_timeout(250)


def error_outputs(panel: Locator) -> list[str]:
    """Tracebacks and stderr text shown in the notebook."""
    return [text.strip()[:500] for text in panel.locator(ERROR_OUTPUT).all_inner_texts()]


def code_cell(panel: Locator, tag: str) -> Locator:
    """The code cell right after the markdown cell tagged **[tag]** (the bold
    tag itself, not a mention of it in another cell's text)."""
    bold_tag = panel.page.locator("strong", has_text=re.compile(rf"^\[{re.escape(tag)}\]$"))
    markdown = panel.locator(".jp-MarkdownCell", has=bold_tag).first
    return markdown.locator("xpath=following-sibling::div[contains(@class, 'jp-CodeCell')][1]")


class KernelProbe:
    """A second client of a notebook's kernel (as ``jupyter console
    --existing`` would be) that evaluates expressions without output in
    the page: ``probe.value("len(canvas.strokes)")``."""

    def __init__(self, connection_file: Path) -> None:
        from jupyter_client import BlockingKernelClient

        self.client = BlockingKernelClient(connection_file=str(connection_file))
        self.client.load_connection_file()
        self.client.start_channels()

    def value(self, expression: str, timeout: float = 30) -> object:
        """The value of ``expression`` (anything JSON can carry) in the kernel."""
        code = f"__import__('json').dumps({expression})"
        msg_id = self.client.execute("", silent=True, store_history=False, user_expressions={"v": code})
        deadline = time.monotonic() + timeout
        while True:
            reply = self.client.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        result = reply["content"]["user_expressions"]["v"]
        if result["status"] != "ok":
            raise RuntimeError(f"{expression}: {result.get('ename')}: {result.get('evalue')}")
        return json.loads(ast.literal_eval(result["data"]["text/plain"]))

    def close(self) -> None:
        self.client.stop_channels()
