"""A class on one server: the README's hub command, three students in real Chromium.

The instructor's clone of the course is a copy of this repository, committed
to git, in which the two training notebooks it runs are in quick form (200
steps).  From that clone the test runs the README's command (``tfbook.py hub start``,
here through ``python -m course_tools``) with three students and an
instructor, on free ports on 127.0.0.1.  Then, each student in their own
Chromium at the same time:

1. opens the link the command printed, logs in, and lands in JupyterLab in
   ``~/tfbook/chapters/Chapter01`` (nbgitpuller cloned the course), with
   their memory and CPU in the status bar;
2. runs the training notebook (MSE, quick) with Run All: learning well
   above chance; closing its tab shuts its kernel down;
3. runs the handwriting recognizer and draws a 7 with the mouse: the
   network reads 7;
4. edits a notebook (a line typed into its first cell) and saves it.

``tfbook.py hub status`` shows the instructor every student's server with
its memory, and the admin page shows them in the instructor's browser.
The instructor commits a change (a new file, a changed one); each
student clicks the link again: the change has arrived and their own
edit is still there.  Student A gets 403 on B's server (page and API, with
A's own token, which works on A's server), and cannot read B's files.
The third student runs the TensorBoard notebook (quick): its dashboard
shows through the student's own server.  Finally ``tfbook.py hub stop``
stops everything (the TensorBoard too): no process of the students is
left, and the hub's, the proxy's and git daemon's ports are closed.

Screenshots, the hub's log and the stages' timings go to
``build/test-artifacts/hub/``.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

from course_tools import catalog
from course_tools.hub import accounts, classes
from course_tools.runner import copy_repository

from ..browser.conftest import CHROMIUM, CHROMIUM_FLAGS
from ..browser.drawing import SEVEN, draw, widgets
from ..browser.jupyter import error_outputs, open_notebook, run_all, wait_for_run, write_quick_notebook
from .conftest import REQUIRED, artefact, lacking
from .machine import end_user_processes, free_port, port_open, remove_accounts, user_processes, wait_until

STUDENTS = ("tfbhub-a", "tfbhub-b", "tfbhub-c")
INSTRUCTOR = "tfbhub-teacher"
TRAINING = catalog.by_tag("MSE")
TENSORBOARD = catalog.by_tag("MST")  # trains with TensorBoard logs and shows %tensorboard's dashboard
RECOGNIZER = catalog.by_tag("HWR")
EDITED = catalog.by_tag("LSE")  # the notebook each student changes
NEW_FILE = "chapters/Chapter01/class-notes.md"  # the instructor's later commit adds it ...
CHANGED_FILE = "README.md"  # ... and changes this one
COURSE = "tfbook"  # the folder in each student's home
HUB_START_S = 1800  # the first start installs the hub's environment (TensorFlow included)
PAGE_MS = 300_000  # login, server start and clone under load on 2 cores
RUN_MS = 600_000
STOP_S = 120


# --------------------------------------------------------------------------
# the instructor's side: a clone of the course and the hub command
# --------------------------------------------------------------------------

def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), "-c", "user.name=Instructor", "-c", "user.email=teacher@example.org",
                           *args], capture_output=True, text=True, check=True)
    return done.stdout


def course_clone(target: Path) -> Path:
    """The instructor's clone: this repository, the training notebook quick, committed on main."""
    repo = copy_repository(target)
    for notebook in (TRAINING, TENSORBOARD):
        write_quick_notebook(repo, notebook.relative_path)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "The course, as the class gets it")
    git(repo, "repack", "-a", "-d", "-q")  # packed, as a real clone is: each student's clone reuses the pack
    return repo


def remove_test_users() -> None:
    """The test's accounts and homes, also those a failed run left behind."""
    names = (*STUDENTS, INSTRUCTOR, f"{INSTRUCTOR}-grader")  # the hub's grading account for assignments
    end_user_processes(names)
    remove_accounts(names)


@dataclass
class Hub:
    repo: Path
    state: Path
    process: subprocess.Popen
    output: list[str] = field(default_factory=list)
    link: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def settings(self) -> dict:
        return json.loads((self.state / "settings.json").read_text())

    @property
    def url(self) -> str:
        return self.link.split("/hub/", 1)[0]

    def passwords(self) -> dict[str, str]:
        return accounts.read_passwords(self.state / accounts.PASSWORDS_FILE)

    def command(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run([sys.executable, "-m", "course_tools", "hub", *args, "--state", str(self.state)],
                              cwd=self.repo, env=command_env(self.repo), capture_output=True, text=True,
                              timeout=timeout)
        return done.stdout + done.stderr


def command_env(repo: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(repo)}


def start_hub(repo: Path, state: Path) -> Hub:
    roster = state.parent / "students.txt"
    roster.write_text("\n".join(STUDENTS) + "\n")
    command = [sys.executable, "-m", "course_tools", "hub", "start", "--students", str(roster),
               "--instructor", INSTRUCTOR, "--port", str(free_port()), "--git-port", str(free_port()),
               "--state", str(state)]
    process = subprocess.Popen(command, cwd=repo, env=command_env(repo), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    hub = Hub(repo, state, process)
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in process.stdout:
            hub.output.append(line.rstrip("\n"))
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    started = time.monotonic()
    while not hub.link:
        try:
            line = lines.get(timeout=max(1.0, HUB_START_S - (time.monotonic() - started)))
        except queue.Empty:
            line = None
        if line is None:
            raise AssertionError("the hub command printed no link:\n" + "\n".join(hub.output[-30:]))
        if "/hub/user-redirect/git-pull?" in line:
            hub.link = line.strip()
    hub.timings["start_to_link_s"] = time.monotonic() - started
    return hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    missing = lacking()
    if missing:  # only reached in CI (TFBOOK_REQUIRE_HUB=1): elsewhere the test was skipped
        pytest.fail("the class test must run here (TFBOOK_REQUIRE_HUB=1), but this machine lacks "
                    + "; ".join(missing))
    assert REQUIRED or not missing
    shutil.rmtree(artefact("x").parent, ignore_errors=True)
    remove_test_users()
    base = tmp_path_factory.mktemp("hub")
    repo = course_clone(base / "tfbook")
    state = base / "state"
    running = start_hub(repo, state)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.command("stop")
            try:
                running.process.wait(STOP_S)
            except subprocess.TimeoutExpired:
                os.killpg(running.process.pid, signal.SIGKILL)
        for name in ("jupyterhub.log",):
            if (state / name).is_file():
                shutil.copyfile(state / name, artefact(name))
        artefact("hub-command-output.txt").write_text("\n".join(running.output) + "\n")
        artefact("timings.json").write_text(json.dumps(running.timings, indent=1))
        remove_test_users()
        classes.unregister(state)  # its accounts are gone: no later class should meet it


# --------------------------------------------------------------------------
# the students' side: one Chromium each, at the same time
# --------------------------------------------------------------------------

@dataclass
class StudentLab:
    """A student's JupyterLab behind the hub, as the browser helpers expect a server."""

    hub_url: str
    name: str
    app: str = "lab"

    @property
    def base(self) -> str:
        return f"{self.hub_url}/user/{self.name}"

    def notebook_url(self, relative: str) -> str:
        return f"{self.base}/lab/tree/{quote(f'{COURSE}/{relative}')}?reset"


def in_browsers(work: Callable, names: tuple[str, ...], *args) -> dict[str, dict]:
    """``work(playwright, context, page, name, notes, *args)`` for each student, all at once,
    each in a thread with its own Playwright and Chromium; re-raises the first failure."""
    from playwright.sync_api import sync_playwright

    notes: dict[str, dict] = {name: {} for name in names}
    failures: dict[str, BaseException] = {}

    def one(name: str) -> None:
        try:
            with sync_playwright() as playwright:
                context = playwright.chromium.launch_persistent_context(
                    tempfile.mkdtemp(prefix=f"chromium-{name}-"), executable_path=CHROMIUM, headless=True,
                    args=CHROMIUM_FLAGS, viewport={"width": 1400, "height": 1000})
                context.set_default_timeout(60_000)
                page = context.new_page()
                try:
                    work(playwright, context, page, name, notes[name], *args)
                except BaseException:
                    page.screenshot(path=artefact(f"FAILED-{work.__name__}-{name}.png"), full_page=True)
                    raise
                finally:
                    context.close()
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            failures[name] = error

    threads = [threading.Thread(target=one, args=(name,), name=name) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        name, error = next(iter(failures.items()))
        raise AssertionError(f"{work.__name__} failed for {name}: {error}") from error
    return notes


def log_in_through_link(page, hub: Hub, name: str) -> StudentLab:
    """Click the link, log in, and wait for JupyterLab in ~/tfbook/chapters/Chapter01."""
    page.goto(hub.link)
    page.locator("#username_input").fill(name)
    page.locator("#password_input").fill(hub.passwords()[name])
    page.locator("#login_submit").click()
    page.wait_for_url(re.compile(rf"/user/{name}/lab"), timeout=PAGE_MS)
    page.locator(".jp-BreadCrumbs", has_text="Chapter01").wait_for(timeout=PAGE_MS)
    page.locator(".jp-DirListing-item", has_text=EDITED.file_name).wait_for(timeout=PAGE_MS)
    return StudentLab(hub.url, name)


def api(page, lab: StudentLab, path: str) -> dict:
    response = page.request.get(f"{lab.base}/api/{path}")
    assert response.status == 200, (path, response.status)
    return response.json()


def close_tab(page, lab: StudentLab) -> None:
    """File -> Close Tab, as a student closes a notebook; Save when JupyterLab asks (a notebook that ran).
    The hub's JupyterLab shuts the notebook's kernel down with its tab."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
    page.locator('.lm-Menu-item[data-command="application:close"]').first.click()
    dialog = page.locator(".jp-Dialog")
    try:
        dialog.wait_for(timeout=5_000)
    except PlaywrightTimeout:
        pass
    else:
        dialog.get_by_role("button", name="Save", exact=True).click()
        dialog.wait_for(state="detached")
    wait_until(lambda: api(page, lab, "kernels") == [], 60, "the kernel stops when its tab closes")


def first_lesson(playwright, context, page, name: str, notes: dict, hub: Hub) -> None:
    started = time.monotonic()
    lab = log_in_through_link(page, hub, name)
    notes["link_to_lab_s"] = time.monotonic() - started
    # jupyter-resource-usage in the status bar: this student's memory (and CPU)
    status_bar = page.locator("#jp-main-statusbar")
    page.wait_for_function("(el) => /Mem/.test(el.innerText)", arg=status_bar.element_handle(), timeout=60_000)
    notes["status_bar"] = status_bar.inner_text()
    page.screenshot(path=artefact(f"{name}-1-lab-after-link.png"))

    # the training notebook, quick: Run All, learning well above chance
    started = time.monotonic()
    panel = open_notebook(page, lab, TRAINING.relative_path)
    run_all(page)
    wait_for_run(page, RUN_MS)
    assert error_outputs(panel) == []
    accuracies = [float(a) for a in re.findall(r"Accuracy: ([0-9.]+)", panel.inner_text())]
    assert accuracies and accuracies[-1] >= TRAINING.min_quick_accuracy, accuracies
    notes["training_s"], notes["training_accuracy"] = time.monotonic() - started, accuracies[-1]
    page.screenshot(path=artefact(f"{name}-2-training.png"))
    close_tab(page, lab)

    # the handwriting recognizer: Run All stops at [HWR-08] (nothing drawn yet), then draw a 7
    started = time.monotonic()
    panel = open_notebook(page, lab, RECOGNIZER.relative_path)
    run_all(page)
    wait_for_run(page, RUN_MS)
    errors = error_outputs(panel)
    assert len(errors) == 1 and errors[0].startswith("EmptyDrawing"), errors
    box, canvas, side = widgets(panel)
    canvas.wait_for(timeout=30_000)
    draw(page, canvas, side, SEVEN, update_ms=30_000)  # three students share two cores
    page.wait_for_function("(el) => /prediction:\\s*7/.test(el.innerText)", arg=side.element_handle(),
                           timeout=30_000)
    notes["recognizer_s"] = time.monotonic() - started
    box.screenshot(path=artefact(f"{name}-3-recognizer-drew-7.png"))
    close_tab(page, lab)

    # the student's own edit: a line typed into the first cell, saved
    panel = open_notebook(page, lab, EDITED.relative_path)
    panel.locator(".jp-CodeCell .cm-content").first.click()
    page.keyboard.press("Control+Home")
    page.keyboard.type(f"# {name}'s own note\n")
    page.keyboard.press("Control+s")
    # saved when the tab is no longer marked dirty (reading the file while it is written races the save)
    page.wait_for_function("() => !document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')",
                           timeout=60_000)
    path = f"contents/{quote(f'{COURSE}/{EDITED.relative_path}')}"
    assert f"{name}'s own note" in json.dumps(api(page, lab, path)["content"])
    page.screenshot(path=artefact(f"{name}-4-edited.png"))
    close_tab(page, lab)


def next_lesson(playwright, context, page, name: str, notes: dict, hub: Hub) -> None:
    """After the instructor's commit: click the link again; the change arrived, the edit stayed.
    The first student then tries the second one's server."""
    other = STUDENTS[1] if name == STUDENTS[0] else None
    lab = log_in_through_link(page, hub, name)
    listing = api(page, lab, f"contents/{quote(f'{COURSE}/chapters/Chapter01')}")
    assert "class-notes.md" in {item["name"] for item in listing["content"]}
    changed = api(page, lab, f"contents/{quote(f'{COURSE}/{CHANGED_FILE}')}")["content"]
    assert "This term's class" in changed
    edited = api(page, lab, f"contents/{quote(f'{COURSE}/{EDITED.relative_path}')}")
    assert f"{name}'s own note" in json.dumps(edited["content"])
    page.screenshot(path=artefact(f"{name}-5-after-second-click.png"))
    if name == STUDENTS[2]:
        tensorboard_through_the_hub(page, lab)
    if other is None:
        return
    # student A and B's server: the page and the API answer 403, even with A's own valid token
    response = page.goto(f"{hub.url}/user/{other}/lab")
    assert response is not None and response.status == 403, response and response.status
    page.screenshot(path=artefact(f"{name}-6-403-on-{other}.png"))
    # A's own API token, requested on the hub's Token page as a student would
    page.goto(f"{hub.url}/hub/token")
    page.locator("#token-note").fill("isolation check")
    page.get_by_role("button", name="Request new API token").click()
    page.locator("#token-result").wait_for(timeout=30_000)
    token = {"Authorization": f"token {page.locator('#token-result').inner_text().strip()}"}
    client = playwright.request.new_context()  # no cookies: only the token speaks
    try:
        assert client.get(f"{hub.url}/user/{name}/api/contents/{COURSE}", headers=token).status == 200
        assert client.get(f"{hub.url}/user/{other}/api/contents/{COURSE}", headers=token).status == 403
        assert client.get(f"{hub.url}/user/{other}/api/kernels", headers=token).status == 403
    finally:
        client.dispose()


def instructor_admin_page(playwright, context, page, name: str, notes: dict, hub: Hub) -> None:
    """The instructor logs in to the admin page: every student is there, their servers running."""
    page.goto(f"{hub.url}/hub/login?next={quote('/hub/admin', safe='')}")
    page.locator("#username_input").fill(name)
    page.locator("#password_input").fill(hub.passwords()[name])
    page.locator("#login_submit").click()
    page.wait_for_url(re.compile(r"/hub/admin"), timeout=PAGE_MS)
    for student in STUDENTS:
        page.get_by_text(student, exact=True).first.wait_for(timeout=60_000)
    stop_buttons = page.get_by_role("button", name="Stop Server")
    wait_until(lambda: stop_buttons.count() >= len(STUDENTS), 60, "the admin page shows the running servers")
    page.screenshot(path=artefact(f"{name}-admin-page.png"), full_page=True)


def tensorboard_through_the_hub(page, lab: StudentLab) -> None:
    """%tensorboard's dashboard comes through the student's own server (jupyter-server-proxy), not
    from localhost:6006, which the student's browser cannot reach.  Its TensorBoard keeps running
    after the notebook (students re-run the cell); stopping the hub ends it."""
    panel = open_notebook(page, lab, TENSORBOARD.relative_path)
    run_all(page)
    wait_for_run(page, RUN_MS)
    assert error_outputs(panel) == []
    frame = panel.locator(".jp-OutputArea-output iframe").last
    frame.wait_for(timeout=60_000)
    assert f"/user/{lab.name}/proxy/" in (frame.get_attribute("src") or "")
    panel.frame_locator(".jp-OutputArea-output iframe").last.locator("text=TensorBoard").first.wait_for(
        timeout=60_000)
    frame.scroll_into_view_if_needed()
    page.screenshot(path=artefact(f"{lab.name}-7-tensorboard.png"))


@pytest.mark.hub
def test_a_class_on_one_hub(hub: Hub) -> None:
    settings = hub.settings
    assert hub.link.startswith(f"http://127.0.0.1:{settings['port']}/hub/user-redirect/git-pull?")
    assert hub.passwords().keys() >= {*STUDENTS, INSTRUCTOR}
    for name in STUDENTS:  # homes only their owners can read
        assert accounts.home(name).stat().st_mode & 0o777 == 0o700

    started = time.monotonic()
    notes = in_browsers(first_lesson, STUDENTS, hub)
    hub.timings["first_lesson_s"] = time.monotonic() - started
    hub.timings["students"] = notes

    # the instructor sees every student's server with its memory
    status = hub.command("status")
    artefact("hub-status.txt").write_text(status)
    for name in STUDENTS:
        row = next((line for line in status.splitlines() if line.startswith(name)), "")
        assert re.match(rf"{name}\s+running\s+[\d,]+\s", row), status
    in_browsers(instructor_admin_page, (INSTRUCTOR,), hub)

    # the instructor commits a change; the students click the link again
    (hub.repo / NEW_FILE).write_text("# Class notes\n\nWhat we did today.\n")
    with open(hub.repo / CHANGED_FILE, "a", encoding="utf-8") as f:
        f.write("\nThis term's class: see chapters/Chapter01/class-notes.md.\n")
    git(hub.repo, "add", "-A")
    git(hub.repo, "commit", "-q", "-m", "Notes for this week's class")
    started = time.monotonic()
    in_browsers(next_lesson, STUDENTS, hub)
    hub.timings["second_click_s"] = time.monotonic() - started

    # A cannot read B's files; B can (the files are there)
    a, b = STUDENTS[0], STUDENTS[1]
    target = accounts.home(b) / COURSE / EDITED.relative_path
    as_a = subprocess.run(["runuser", "-u", a, "--", "cat", str(target)], capture_output=True, text=True)
    as_b = subprocess.run(["runuser", "-u", b, "--", "cat", str(target)], capture_output=True, text=True)
    assert as_b.returncode == 0 and f"{b}'s own note" in as_b.stdout
    assert as_a.returncode != 0 and "Permission denied" in as_a.stderr, as_a

    # the instructor stops the hub: every server, kernel and service stops, the ports close
    ports = [settings["port"], settings["git_port"], settings["proxy_api_port"], settings["hub_port"]]
    started = time.monotonic()
    said = hub.command("stop", timeout=STOP_S + 60)
    assert "The hub has stopped." in said, said
    assert hub.process.wait(STOP_S) == 0
    hub.timings["stop_s"] = time.monotonic() - started
    left = {pid: what for pid, what in user_processes(STUDENTS).items() if not what.startswith("Z ")}
    assert left == {}, f"the students' processes outlived the hub: {left}"
    assert [port for port in ports if port_open(port)] == []
    assert not (hub.state / "tfbook-hub.pid").exists()
    assert any(line.startswith("The hub has stopped") for line in hub.output), hub.output[-5:]
