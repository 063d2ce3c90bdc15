"""An nbgrader assignment through the class's hub, with real users and real Chromium.

The README's commands, on a hub started by ``tfbook.py hub --branch students``
(nbgrader set up by it, no manual step; the branch made by ``tfbook.py
assignments student-branch`` holds the student versions, not the solutions),
with two students and an instructor:

1. the instructor releases the slide-65 exercise (``tfbook.py assignments
   release mse-ex``, the smallest one) with a due date in Asia/Tokyo;
2. each student, in their own Chromium at the same time, clicks the course's
   link (the clone in ~/tfbook whose tfbook_utils the kernels import), opens
   Nbgrader -> Assignment List, fetches it, opens the notebook, types an
   answer (A the correct line, B a wrong one) and a written answer, saves,
   presses Validate (A: success; B: the self-check's Japanese message) and
   Submit; a student gets 404 for the Formgrader;
3. the instructor collects, autogrades (the students' code runs as the
   grading account, which cannot change the gradebook), releases feedback
   and exports the CSV: A has full marks for the autograded questions, B
   less; the instructor's Formgrader opens in its own tab;
4. no file a student can read holds the hidden tests' code (before and
   after feedback), and A can neither list the exchange's inbound folder
   nor read the course folder;
5. B resubmits a correct answer one minute before a due date given in
   Asia/Tokyo: the resubmission replaces the first one and is not late;
   with the due date 90 s before it, it is 90 s late.

Screenshots, the hub's log, the CSV and timings go to ``build/test-artifacts/assignments/``.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from course_tools import catalog
from course_tools.hub import accounts
from course_tools.hub import nbgrader as hub_nbgrader
from course_tools.hub.config import Settings

from .conftest import ARTIFACTS, REQUIRED, lacking
from .machine import end_user_processes, free_port, remove_accounts
from .test_class import PAGE_MS, STOP_S, Hub, command_env, course_clone, in_browsers, log_in_through_link

STUDENTS = ("tfbnbg-a", "tfbnbg-b")
INSTRUCTOR = "tfbnbg-teacher"
ASSIGNMENT = catalog.by_tag("MSE-EX")  # the smallest assignment: about 20 s to validate or autograde
NAME = ASSIGNMENT.assignment_name
CORRECT = "train_step = tf.train.GradientDescentOptimizer(learning_rate).minimize(loss)"
WRONG = "train_step = tf.train.AdamOptimizer().minimize(loss)"


def hidden_test_line() -> str:
    """A line of the assignment's hidden tests, read from its source (this file must not hold it:
    the students' clone has the tests folder)."""
    cells = json.loads(ASSIGNMENT.path.read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) for c in cells)
    block = re.search(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", text, re.S)
    return block.group(1).splitlines()[0].rstrip(" \\")


HIDDEN = hidden_test_line()
WRITTEN = "学習率 0.001 の勾配降下法は、200回ではまだ誤差が大きいままでした。"
JAPANESE = "Adam とまったく同じです"  # the self-check's message for the wrong answer
VALIDATE_MS = 400_000
HUB_START_S = 1800  # the first start installs the hub's environment


OWN_ARTIFACTS = ARTIFACTS.parent / "assignments"  # not the hub folder, which the class test clears


def artefact(name: str) -> Path:
    OWN_ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return OWN_ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def remove_test_users(prefix: Path) -> None:
    names = (*STUDENTS, INSTRUCTOR, f"{INSTRUCTOR}-grader")
    end_user_processes(names)
    # the class folders this test made (owned by its instructor), not a real class's
    uid = accounts.pwd.getpwnam(INSTRUCTOR).pw_uid if accounts.exists(INSTRUCTOR) else None
    for course in (prefix / "nbgrader").glob("tfbook-*/course"):
        if course.stat().st_uid == uid:
            folders = hub_nbgrader.ClassFolders(prefix, INSTRUCTOR, course.parent.name)
            shutil.rmtree(folders.own, ignore_errors=True)
            shutil.rmtree(folders.exchanged, ignore_errors=True)
            subprocess.run(["groupdel", folders.group], capture_output=True)
    remove_accounts(names)


def start_hub(repo: Path, state: Path) -> Hub:
    import queue
    import threading

    roster = state.parent / "students.txt"
    roster.write_text("\n".join(STUDENTS) + "\n")
    command = [sys.executable, "-m", "course_tools", "hub", "start", "--students", str(roster),
               "--instructor", INSTRUCTOR, "--port", str(free_port()), "--git-port", str(free_port()),
               "--state", str(state), "--branch", "students"]
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
        line = lines.get(timeout=HUB_START_S)
        if line is None:
            raise AssertionError("the hub command printed no link:\n" + "\n".join(hub.output[-30:]))
        if "/hub/user-redirect/git-pull?" in line:
            hub.link = line.strip()
    hub.timings["start_to_link_s"] = time.monotonic() - started
    return hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    missing = lacking()
    if missing:
        pytest.fail("the assignments' hub test must run here (TFBOOK_REQUIRE_HUB=1), but this machine lacks "
                    + "; ".join(missing))
    assert REQUIRED or not missing
    prefix = Path(os.environ.get("TFBOOK_HUB_PREFIX", "/opt/tfbook-hub"))
    shutil.rmtree(OWN_ARTIFACTS, ignore_errors=True)
    remove_test_users(prefix)
    base = tmp_path_factory.mktemp("nbghub")
    repo = course_clone(base / "tfbook")
    # the students clone the branch with the student versions, not the solutions
    subprocess.run([sys.executable, "-m", "course_tools", "assignments", "student-branch"], cwd=repo,
                   env=command_env(repo), check=True, capture_output=True, timeout=900)
    running = start_hub(repo, base / "state")
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.command("stop")
            try:
                running.process.wait(STOP_S)
            except subprocess.TimeoutExpired:
                os.killpg(running.process.pid, signal.SIGKILL)
        if (running.state / "jupyterhub.log").is_file():
            shutil.copyfile(running.state / "jupyterhub.log", artefact("assignments-jupyterhub.log"))
        artefact("assignments-timings.json").write_text(json.dumps(running.timings, indent=1))
        remove_test_users(prefix)


def assignments(hub: Hub, *args: str, timeout: float = 600) -> str:
    """``tfbook.py assignments --state STATE ARGS`` as the instructor runs it (as root)."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "course_tools", "assignments", "--state", str(hub.state), *args],
                          cwd=hub.repo, env=command_env(hub.repo), capture_output=True, text=True, timeout=timeout)
    hub.timings[f"assignments {args[0]}"] = hub.timings.get(f"assignments {args[0]}", 0) + time.monotonic() - started
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    assert "Traceback" not in said, said
    return said


def as_student(name: str, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", name, "--", *command], capture_output=True, text=True,
                          cwd=accounts.home(name), env={"HOME": str(accounts.home(name)), "PATH": os.environ["PATH"]})


def log_in(page, hub: Hub, name: str, next_path: str = "/hub/user-redirect/lab") -> None:
    page.goto(f"{hub.url}/hub/login?next={next_path}")
    page.locator("#username_input").fill(name)
    page.locator("#password_input").fill(hub.passwords()[name])
    page.locator("#login_submit").click()


def student_does_the_assignment(playwright, context, page, name: str, notes: dict, hub: Hub) -> None:
    started = time.monotonic()
    log_in_through_link(page, hub, name)  # the course's clone in ~/tfbook: the kernels import its tfbook_utils
    assert page.request.get(f"{hub.url}/user/{name}/formgrader").status == 404  # no grading tools
    # Nbgrader -> Assignment List -> Fetch
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click(timeout=PAGE_MS)
    assert "Formgrader" not in " ".join(page.locator(".lm-Menu-itemLabel").all_inner_texts())
    page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
    page.locator("#released_assignments_list .list_item", has_text=NAME).get_by_role("button", name="Fetch").click(
        timeout=PAGE_MS)
    fetched = page.locator("#fetched_assignments_list .list_item", has_text=NAME).first
    fetched.wait_for(timeout=PAGE_MS)
    notes["login_to_fetched_s"] = time.monotonic() - started
    page.screenshot(path=artefact(f"{name}-assignments-1-fetched.png"))
    # open the notebook from the list, type the answer and the written answer, save
    fetched.locator("a.assignment-notebooks-link").click()
    page.locator("#fetched_assignments_list .nested_list_item a", has_text=ASSIGNMENT.assignment_file[:-6]).click()
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first
    stub = panel.locator(".cm-line", has_text="raise NotImplementedError()")
    stub.click(timeout=PAGE_MS)
    page.keyboard.press("End")
    page.keyboard.press("Shift+Home")
    page.keyboard.type(CORRECT if name == STUDENTS[0] else WRONG)
    page.keyboard.press("Escape")  # command mode; then the written answer's cell, Enter to edit it
    answer = panel.locator(".jp-MarkdownCell", has_text="YOUR ANSWER HERE")
    answer.click()
    page.keyboard.press("Enter")
    answer.locator(".cm-content").wait_for(timeout=30_000)
    page.keyboard.press("Control+a")
    page.keyboard.type(WRITTEN)
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Control+s")
    page.wait_for_function("() => !document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')",
                           timeout=60_000)
    saved = page.request.get(f"{hub.url}/user/{name}/api/contents/{NAME}/{ASSIGNMENT.assignment_file}").json()
    sources = ["".join(c["source"]) for c in saved["content"]["cells"]]
    assert any((CORRECT if name == STUDENTS[0] else WRONG) in s and "NotImplementedError" not in s
               for s in sources if "# YOUR CODE HERE" in s), sources
    assert WRITTEN in sources
    page.screenshot(path=artefact(f"{name}-assignments-2-answered.png"))
    # Validate (the whole notebook runs), from the Assignments list
    started = time.monotonic()
    page.locator(".lm-TabBar-tab", has_text="Assignments").first.click()
    page.locator("#fetched_assignments_list .nested_list_item").get_by_role("button", name="Validate").click()
    dialog = page.locator(".jp-Dialog")
    dialog.filter(has_text=re.compile("Success|failed|error", re.I)).wait_for(timeout=VALIDATE_MS)
    notes["validate_s"] = time.monotonic() - started
    notes["validate_said"] = dialog.inner_text()[:2000]
    page.screenshot(path=artefact(f"{name}-assignments-3-validated.png"))
    dialog.get_by_role("button").last.click()
    # Submit
    listed = page.locator("#fetched_assignments_list .list_item", has_text=NAME)
    listed.get_by_role("button", name="Submit").first.click()
    page.locator("#submitted_assignments_list .list_item", has_text=NAME).first.wait_for(timeout=PAGE_MS)
    page.screenshot(path=artefact(f"{name}-assignments-4-submitted.png"))


def instructor_opens_the_formgrader(playwright, context, page, name: str, notes: dict, hub: Hub) -> None:
    """The Formgrader in its own tab (the hub forbids frames), with the assignment and its submissions."""
    log_in(page, hub, name, "/hub/user-redirect/formgrader")
    page.wait_for_url(re.compile(rf"/user/{name}/formgrader"), timeout=PAGE_MS)
    page.get_by_text(NAME).first.wait_for(timeout=120_000)
    page.screenshot(path=artefact(f"{name}-formgrader.png"), full_page=True)


def readable_files_holding(student: str, text: str, folders: list[Path]) -> list[str]:
    """Files the student can read (as that user) that hold ``text`` (HTML read as its text)."""
    listed = as_student(student, "find", *map(str, folders), "-type", "f", "-readable")
    hits = []
    for path in listed.stdout.splitlines():
        try:
            content = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if path.endswith(".html"):
            content = html.unescape(re.sub(r"<[^>]+>", "", content))
        if text in content:
            hits.append(path)
    return hits


def tokyo(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M:%S")


@pytest.mark.hub
def test_assignments_through_the_hub(hub: Hub) -> None:
    settings = Settings.load(hub.state)
    folders = hub_nbgrader.folders(settings)
    due = tokyo(datetime.now().astimezone() + timedelta(days=7))
    said = assignments(hub, "release", NAME, "--due", due)
    assert f"due {due} Asia/Tokyo" in said
    assert folders.exchange.stat().st_mode & 0o7777 == 0o1777

    started = time.monotonic()
    notes = in_browsers(student_does_the_assignment, STUDENTS, hub)
    hub.timings["students_s"], hub.timings["students"] = time.monotonic() - started, notes
    a, b = STUDENTS
    assert "Success" in notes[a]["validate_said"], notes[a]["validate_said"]
    assert JAPANESE in notes[b]["validate_said"], notes[b]["validate_said"]
    student_folders = [accounts.home(a), folders.exchange]
    assert readable_files_holding(a, HIDDEN, student_folders) == []
    # A cannot list the exchange's inbound folder (B's submission there) nor read the course folder
    assert as_student(a, "ls", str(folders.exchange / folders.course_id / "inbound")).returncode != 0
    assert as_student(a, "ls", str(folders.course)).returncode != 0

    assignments(hub, "collect", NAME)
    graded = assignments(hub, "autograde", NAME)
    assert "autograded mse-ex: 2 submission(s)" in graded, graded
    assignments(hub, "feedback", NAME)
    table = assignments(hub, "export")
    artefact("assignments-grades.csv").write_text(table)
    rows = {row["student"]: row for row in csv.DictReader(io.StringIO(table))}
    assert float(rows[a]["autograded"]) == float(rows[a]["autograded_max"]) == 5.0, rows[a]
    assert float(rows[b]["autograded"]) < 5.0, rows[b]
    assert rows[a][f"{NAME}:{NAME}_tests"] == "3.0" and rows[b][f"{NAME}:{NAME}_check"] == "0.0"
    assert rows[a]["seconds_late"] == "0"
    # the gradebook is the instructor's; the grading account (autograde's kernels) cannot change it
    gradebook = folders.course / "gradebook.db"
    assert gradebook.stat().st_uid == accounts.pwd.getpwnam(INSTRUCTOR).pw_uid
    assert as_student(folders.grader, "sh", "-c", f"echo >> '{gradebook}'").returncode != 0

    # feedback reaches the students without the hidden tests
    for student in STUDENTS:
        fetched = as_student(student, str(folders.venv / "bin" / "python"), "-m", "nbgrader", "fetch_feedback", NAME)
        assert fetched.returncode == 0, fetched.stderr[-500:]
        assert list((accounts.home(student) / NAME / "feedback").glob("*/*.html"))
        assert readable_files_holding(student, HIDDEN, [accounts.home(student), folders.exchange]) == []
    in_browsers(instructor_opens_the_formgrader, (INSTRUCTOR,), hub)

    # B resubmits a correct answer one minute before a due date given in Asia/Tokyo
    course = hub_nbgrader.course(settings)
    notebook = accounts.home(b) / NAME / ASSIGNMENT.assignment_file
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    answer = next(c for c in nb["cells"] if c["cell_type"] == "code" and WRONG in "".join(c["source"]))
    head, _, tail = "".join(answer["source"]).rpartition(WRONG)  # B's line, not the Adam line above it
    answer["source"] = head + CORRECT + tail
    notebook.write_text(json.dumps(nb), encoding="utf-8")
    deadline = datetime.now().astimezone() + timedelta(seconds=60)
    course.nbgrader("db", "assignment", "add", NAME, f"--duedate={tokyo(deadline)} Asia/Tokyo")
    submitted = as_student(b, str(folders.venv / "bin" / "python"), "-m", "nbgrader", "submit", NAME)
    assert submitted.returncode == 0, submitted.stderr[-500:]
    assignments(hub, "collect", NAME)
    assignments(hub, "autograde", NAME)
    rows = {row["student"]: row for row in csv.DictReader(io.StringIO(assignments(hub, "export")))}
    assert rows[b]["seconds_late"] == "0", rows[b]
    assert float(rows[b]["autograded"]) == 5.0, rows[b]  # the resubmission replaced the wrong one
    when = datetime.fromisoformat(rows[b]["timestamp"]).replace(tzinfo=ZoneInfo("UTC"))
    assert timedelta(0) < deadline - when <= timedelta(seconds=60), (deadline, when)
    # the same submission against a due date 90 s before it: 90 s late
    course.nbgrader("db", "assignment", "add", NAME, f"--duedate={tokyo(when - timedelta(seconds=90))} Asia/Tokyo")
    rows = {row["student"]: row for row in csv.DictReader(io.StringIO(assignments(hub, "export")))}
    assert abs(int(rows[b]["seconds_late"]) - 90) <= 1, rows[b]
