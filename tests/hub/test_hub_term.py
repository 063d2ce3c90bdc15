"""A hub for a whole term, with real accounts and real hub processes (no browser).

Two classes on one server, one student each: class A runs as the systemd
service would run it (its unit passes ``systemd-analyze verify``; the unit's
ExecStart command is started detached from a shell that then exits), class B
in the foreground as ``hub start`` runs it.  Each student logs in, starts a
server and a kernel through the REST API; A's student pulls the course from
A's git daemon and edits a notebook.  Then:

* B's roster naming A's student, root, daemon, bad sizes, minutes and ports
  are each refused with one line before anything starts;
* SIGHUP to B's command (its terminal is gone) stops everything B started,
  and A's student's kernel lives on;
* A's git daemon serves the course branch only (no ``solutions``);
* a password reset lets A's student in with the new password only;
* ``hub status`` and ``hub stop`` find A's hub through its state folder, and
  tell a non-root user the truth;
* each class has its own nbgrader course: an assignment A's instructor
  releases is in A's student's ``nbgrader list``, not in B's;
* the end of term archives A's student's home (the edited notebook in it)
  and A's gradebook, then removes A's accounts, assignments' folders and
  grading account (B's stay) and says how much that freed.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from course_tools import catalog
from course_tools.catalog import REPO_ROOT
from course_tools.hub import accounts, classes, service
from course_tools.hub import nbgrader as hub_nbgrader
from course_tools.hub.config import Settings

from .client import Student
from .conftest import REQUIRED, artefact, lacking
from .machine import end_user_processes, free_port, port_open, remove_accounts, user_processes, wait_until

PREFIX = "tfbterm-"
STUDENT_A, TEACHER_A, STUDENT_B, TEACHER_B = (f"{PREFIX}{n}" for n in ("a1", "ta", "b1", "tb"))
NOTEBOOK = catalog.by_tag("LSE").relative_path  # the notebook the student edits
START_S, STOP_S = 240, 120


def remove_test_users() -> None:
    names = (STUDENT_A, TEACHER_A, STUDENT_B, TEACHER_B, f"{PREFIX}x", f"{TEACHER_A}-grader", f"{TEACHER_B}-grader")
    end_user_processes(names)
    remove_accounts(names)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@example.org", *args],
                          capture_output=True, text=True, check=True).stdout


def hub(*args: str, timeout: float = 300, user: int | None = None) -> subprocess.CompletedProcess:
    """``tfbook.py hub ARGS`` as the README says (inside .venv: ``python -m course_tools``)."""
    return subprocess.run([sys.executable, "-m", "course_tools", "hub", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=timeout, user=user)


class Term:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.course = base / "course"  # the instructor's clone: main, and a solutions branch
        self.course.mkdir()
        (self.course / NOTEBOOK).parent.mkdir(parents=True)
        (self.course / NOTEBOOK).write_bytes((REPO_ROOT / NOTEBOOK).read_bytes())
        git(self.course, "init", "-q", "-b", "main")
        git(self.course, "add", "-A")
        git(self.course, "commit", "-q", "-m", "The course")
        git(self.course, "checkout", "-q", "-b", "solutions")
        (self.course / "solutions.md").write_text("The answers\n")
        git(self.course, "add", "-A")
        git(self.course, "commit", "-q", "-m", "Solutions")
        self.solutions = git(self.course, "rev-parse", "HEAD").strip()
        git(self.course, "checkout", "-q", "main")
        self.state_a, self.state_b = base / "state-a", base / "state-b"
        self.units = base / "units"
        self.roster_a, self.roster_b = base / "a.txt", base / "b.txt"
        self.roster_a.write_text(f"{STUDENT_A}\n")
        self.roster_b.write_text(f"{STUDENT_B}\n")
        self.port_a, self.git_a, self.port_b, self.git_b = free_port(), free_port(), free_port(), free_port()
        self.b_process: subprocess.Popen | None = None
        self.kernel_a = 0
        self.timings: dict[str, float] = {}

    def settings(self, state: Path) -> Settings:
        return Settings.load(state)

    def student(self, state: Path, name: str) -> Student:
        student = Student(self.settings(state).local_url, name)
        assert student.log_in(accounts.read_passwords(state / accounts.PASSWORDS_FILE)[name])
        student.get_token()
        return student


def kernel_pid(user: str, kernel_id: str) -> int:
    found = [pid for pid, what in user_processes((user,)).items() if kernel_id in what and not what.startswith("Z")]
    assert len(found) == 1, user_processes((user,))
    return found[0]


def alive(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def term(tmp_path_factory: pytest.TempPathFactory):
    if missing := lacking():
        pytest.fail("the hub's term test must run here (TFBOOK_REQUIRE_HUB=1), but this machine lacks "
                    + "; ".join(missing))
    assert REQUIRED or not missing
    remove_test_users()
    term = Term(tmp_path_factory.mktemp("term"))
    os.environ["TFBOOK_HUB_UNIT_DIR"] = str(term.units)  # the commands' units go there, not to /etc/systemd
    try:
        yield term
    finally:
        del os.environ["TFBOOK_HUB_UNIT_DIR"]
        for state in (term.state_a, term.state_b):
            if state.is_dir():
                hub("stop", "--state", str(state), timeout=STOP_S + 60)
                for name in ("jupyterhub.log",):
                    if (state / name).is_file():
                        artefact(f"term-{state.name}-{name}").write_bytes((state / name).read_bytes())
                classes.end_processes(state)
                classes.unregister(state)
                folders = hub_nbgrader.folders(Settings.load(state))
                shutil.rmtree(folders.own, ignore_errors=True)
                shutil.rmtree(folders.exchanged, ignore_errors=True)
                subprocess.run(["groupdel", folders.group], capture_output=True)
        if term.b_process is not None and term.b_process.poll() is None:
            os.killpg(term.b_process.pid, signal.SIGKILL)
        artefact("term-timings.json").write_text(json.dumps(term.timings, indent=1))
        remove_test_users()


def one_line_refusal(done: subprocess.CompletedProcess, *words: str) -> None:
    out = (done.stdout + done.stderr).strip()
    assert done.returncode not in (0, None) and out.count("\n") == 0 and out.startswith("hub: "), out
    assert "Traceback" not in out and all(word in out for word in words), out


@pytest.mark.hub
def test_hub_refuses_bad_settings_in_one_line_before_anything_starts(term: Term) -> None:
    state = term.base / "state-refused"
    twice = term.base / "twice.txt"
    twice.write_text(f"{PREFIX}x\n{PREFIX}x\n")
    common = ["--instructor", f"{PREFIX}x", "--state", str(state), "--port", str(term.port_a),
              "--git-port", str(term.git_a), "--repo", str(term.course)]
    for roster, extra, words in (
            (term.roster_a, ["--mem-limit", "lots"], ["--mem-limit", "3G"]),
            (term.roster_a, ["--idle-minutes", "0"], ["--idle-minutes", "at least 10", "off"]),
            (term.roster_a, ["--idle-minutes", "-5"], ["--idle-minutes"]),
            (term.roster_a, ["--port", "70000"], ["--port 70000", "1 to 65535"]),
            (term.roster_a, ["--port", "lots"], ["--port"]),
            ("", [], ["--students ''"]),
            (twice, [], ["listed twice"])):
        one_line_refusal(hub(*common, "--students", str(roster), *extra), *words)
    for name in ("root", "daemon"):
        roster = term.base / f"{name}.txt"
        roster.write_text(f"{STUDENT_A}\n{name}\n")
        one_line_refusal(hub(*common, "--students", str(roster)), f"'{name}' is a system account")
    one_line_refusal(hub(*common[2:], "--students", str(term.roster_a), "--instructor", "root"), "--instructor")
    # an account that exists and that this class did not create
    subprocess.run(["useradd", "--no-create-home", f"{PREFIX}x"], check=True)
    other = term.base / "x.txt"
    other.write_text(f"{PREFIX}x\n")
    one_line_refusal(hub(*common[2:], "--students", str(other), "--instructor", TEACHER_A),
                     f"'{PREFIX}x' already exists and this class did not create it")
    subprocess.run(["userdel", f"{PREFIX}x"], check=True)
    assert not state.exists()
    assert not any(accounts.exists(n) for n in (STUDENT_A, TEACHER_A, f"{PREFIX}x"))


@pytest.mark.hub
def test_hub_service_unit_verifies_and_its_command_outlives_the_shell(term: Term) -> None:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "course_tools", "hub", "install-service", "--students",
                           str(term.roster_a), "--instructor", TEACHER_A, "--repo", str(term.course),
                           "--port", str(term.port_a), "--git-port", str(term.git_a), "--mem-limit", "3GB",
                           "--state", str(term.state_a)], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=START_S)
    assert done.returncode == 0, done.stdout + done.stderr
    unit = service.unit_path(term.state_a, term.units)
    assert f"Wrote {unit}" in done.stdout and "not booted with systemd" in done.stdout
    text = unit.read_text()
    assert service.verify(unit) == "", service.verify(unit)
    assert {"Restart=on-failure", "KillMode=mixed", "WantedBy=multi-user.target"} <= set(text.splitlines())
    broken = term.units / "tfbook-hub-broken.service"
    broken.write_text(text.replace("ExecStart=/", "ExecStart=no/such/"))
    assert service.verify(broken) != ""  # the check can fail
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    command = shlex.split(exec_start.removeprefix("ExecStart="))
    assert command == service.exec_start(term.state_a)
    # the unit's command, started from a shell that exits at once (an SSH session that ends)
    shell = subprocess.run(["bash", "-c", f"setsid {shlex.join(command)} </dev/null >/dev/null 2>&1 & exit 0"],
                           cwd=REPO_ROOT, timeout=30)
    assert shell.returncode == 0
    wait_until(lambda: "The hub runs at" in hub("status", "--state", str(term.state_a)).stdout, START_S,
               "the detached hub answers `hub status`")
    term.timings["service_hub_up_s"] = time.monotonic() - started
    assert Settings.load(term.state_a).mem_limit == "3G"  # 3GB, understood


@pytest.mark.hub
def test_hub_two_classes_run_side_by_side_and_sighup_stops_only_its_own(term: Term) -> None:
    started = time.monotonic()
    a = term.student(term.state_a, STUDENT_A)
    a.start_server()  # a 500 here would mean --mem-limit 3GB was passed on unread
    settings_a = term.settings(term.state_a)
    a.pull(settings_a.repo_url, "main", "tfbook")
    kernel_a = a.start_kernel()
    term.kernel_a = kernel_pid(STUDENT_A, kernel_a)
    notebook = a.contents(f"tfbook/{NOTEBOOK}")["content"]
    notebook["cells"].insert(0, {"cell_type": "markdown", "metadata": {}, "source": "tfbterm-a1's own note"})
    a.save_notebook(f"tfbook/{NOTEBOOK}", notebook)
    term.timings["a_login_to_kernel_s"] = time.monotonic() - started

    # class B may not take A's student
    taken = term.base / "taken.txt"
    taken.write_text(f"{STUDENT_B}\n{STUDENT_A}\n")
    one_line_refusal(hub("--students", str(taken), "--instructor", TEACHER_B, "--state", str(term.state_b),
                         "--port", str(term.port_b), "--git-port", str(term.git_b), "--repo", str(term.course)),
                     f"'{STUDENT_A}' belongs to another class ({term.state_a}, running)")
    assert not accounts.exists(STUDENT_B)

    # class B in the foreground, as `hub start` in an instructor's terminal
    started = time.monotonic()
    term.b_process = subprocess.Popen(
        [sys.executable, "-m", "course_tools", "hub", "start", "--students", str(term.roster_b), "--instructor",
         TEACHER_B, "--state", str(term.state_b), "--port", str(term.port_b), "--git-port", str(term.git_b),
         "--repo", str(term.course), "--idle-minutes", "off"], cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = []
    for line in term.b_process.stdout:
        lines.append(line)
        if "Stop with Ctrl-C" in line:  # the greeting's last line
            break
    assert any("The hub is up" in line for line in lines), "".join(lines)
    assert "Idle servers keep running." in "".join(lines)
    b = term.student(term.state_b, STUDENT_B)
    b.start_server()
    kernel_b = kernel_pid(STUDENT_B, b.start_kernel())
    term.timings["b_start_to_kernel_s"] = time.monotonic() - started
    settings_b = term.settings(term.state_b)
    assert classes.processes(term.state_b) and kernel_b in classes.processes(term.state_b)
    assert term.kernel_a not in classes.processes(term.state_b)

    # B's terminal is lost: SIGHUP to its command stops everything B started, and nothing of A's
    started = time.monotonic()
    term.b_process.send_signal(signal.SIGHUP)
    assert term.b_process.wait(STOP_S) == 0
    term.timings["b_sighup_to_stopped_s"] = time.monotonic() - started
    rest = term.b_process.stdout.read()
    assert "The hub has stopped" in rest, rest
    assert not alive(kernel_b)
    assert {pid: what for pid, what in user_processes((STUDENT_B, TEACHER_B)).items()
            if not what.startswith("Z ")} == {}
    assert classes.processes(term.state_b) == []
    assert [p for p in (settings_b.port, settings_b.hub_port, settings_b.proxy_api_port, settings_b.git_port)
            if port_open(p)] == []
    assert alive(term.kernel_a), "stopping class B ended class A's student's kernel"
    status, kernels = a.api("GET", f"/user/{STUDENT_A}/api/kernels")
    assert status == 200 and [k["id"] for k in kernels] == [kernel_a]


@pytest.mark.hub
def test_hub_two_classes_keep_their_coursework_apart(term: Term) -> None:
    a, b = (hub_nbgrader.folders(term.settings(state)) for state in (term.state_a, term.state_b))
    assert a.course_id != b.course_id and a.course.is_dir() and b.course.is_dir() and a.course != b.course
    assert "course_id" not in (a.venv / "etc" / "jupyter" / "nbgrader_config.py").read_text()  # every user reads it
    for student, folders in ((STUDENT_A, a), (STUDENT_B, b)):
        own = accounts.home(student) / ".jupyter" / "nbgrader_config.py"
        assert f"course_id = {folders.course_id!r}" in own.read_text()
        assert own.stat().st_uid == accounts.pwd.getpwnam(student).pw_uid
    started = time.monotonic()
    name = catalog.assignments()[0].assignment_name
    done = subprocess.run([sys.executable, "-m", "course_tools", "assignments", "--state", str(term.state_a),
                           "release", name], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and f"released {name}" in done.stdout, done.stdout + done.stderr
    term.timings["a_release_s"] = time.monotonic() - started

    def listed(student: str) -> str:
        home = accounts.home(student)
        done = subprocess.run(["runuser", "-u", student, "--", str(a.venv / "bin" / "python"), "-m", "nbgrader",
                               "list"], capture_output=True, text=True, cwd=home, timeout=120,
                              env={"HOME": str(home), "PATH": os.environ["PATH"]})
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    assert f"{a.course_id} {name}" in listed(STUDENT_A)
    seen_by_b = listed(STUDENT_B)
    assert name not in seen_by_b and a.course_id not in seen_by_b, seen_by_b
    # nor by naming A's course: only A's class can enter A's folder in the exchange
    as_b = ["runuser", "-u", STUDENT_B, "--", "ls", str(a.exchanged / "outbound")]
    assert subprocess.run(as_b, capture_output=True).returncode != 0
    assert subprocess.run(["runuser", "-u", STUDENT_A, "--", "ls", str(a.exchanged / "outbound")],
                          capture_output=True, text=True).stdout.split() == [name]


@pytest.mark.hub
def test_hub_git_daemon_serves_the_course_branch_only(term: Term) -> None:
    url = term.settings(term.state_a).repo_url
    as_student = ["runuser", "-u", STUDENT_A, "--", "git"]
    refs = subprocess.run([*as_student, "ls-remote", url], capture_output=True, text=True, cwd="/tmp", timeout=60)
    assert refs.returncode == 0, refs.stderr
    assert {line.split("\t")[1] for line in refs.stdout.splitlines()} == {"HEAD", "refs/heads/main"}
    target = f"/tmp/{STUDENT_A}-solutions"
    clone = subprocess.run([*as_student, "clone", "-q", "--branch", "solutions", url, target],
                           capture_output=True, text=True, cwd="/tmp", timeout=60)
    assert clone.returncode != 0 and "solutions not found" in clone.stderr, clone.stderr
    subprocess.run([*as_student, "clone", "-q", url, target], check=True, cwd="/tmp", timeout=60)
    by_id = subprocess.run([*as_student, "-C", target, "fetch", "-q", "origin", term.solutions],
                           capture_output=True, text=True, timeout=60)
    assert by_id.returncode != 0, "the solutions commit could be fetched by its id"
    # the instructor's new commit on main reaches the students at their next fetch
    (term.course / "week2.md").write_text("Week 2\n")
    git(term.course, "add", "-A")
    git(term.course, "commit", "-q", "-m", "Week 2")
    subprocess.run([*as_student, "-C", target, "pull", "-q"], check=True, timeout=60)
    assert Path(target, "week2.md").is_file() and not Path(target, "solutions.md").exists()
    subprocess.run(["rm", "-rf", target], check=True)


@pytest.mark.hub
def test_hub_password_reset_lets_the_student_in(term: Term) -> None:
    passwords = term.state_a / accounts.PASSWORDS_FILE
    old = accounts.read_passwords(passwords)[STUDENT_A]
    done = hub("reset-password", STUDENT_A, "--state", str(term.state_a))
    assert done.returncode == 0 and done.stdout.count("\n") == 1, done.stdout + done.stderr
    new = done.stdout.split(": ", 1)[1].split()[0]
    assert new != old and accounts.read_passwords(passwords)[STUDENT_A] == new
    url = term.settings(term.state_a).local_url
    assert Student(url, STUDENT_A).log_in(new)
    assert not Student(url, STUDENT_A).log_in(old)
    one_line_refusal(hub("reset-password", "root", "--state", str(term.state_a)), "not in the class")


@pytest.mark.hub
def test_hub_stop_finds_the_service_and_the_end_of_term_archives_then_removes(term: Term) -> None:
    state = str(term.state_a)
    nobody = hub("stop", "--state", state, user=65534)  # a user who cannot read the state: the truth, in a line
    one_line_refusal(nobody, "root's")
    assert "No hub is running" not in nobody.stdout
    link = hub("link", "--state", state)
    assert link.returncode == 0 and "not running" not in link.stdout
    one_line_refusal(hub("end-of-term", "--state", state), "is running: stop it first")
    started = time.monotonic()
    done = hub("stop", "--state", state, timeout=STOP_S + 60)
    assert done.stdout.strip() == "The hub has stopped.", done.stdout + done.stderr
    term.timings["a_stop_s"] = time.monotonic() - started
    assert not alive(term.kernel_a) and classes.processes(term.state_a) == []
    assert "No hub is running" in hub("status", "--state", state).stdout
    assert "not running now" in hub("link", "--state", state).stdout
    logs = hub("logs", "--state", state, "-n", "200").stdout
    assert "The hub has stopped." in logs and "The hub is up" in logs

    archive = term.base / "archive"
    homes = [accounts.home(STUDENT_A), accounts.home(TEACHER_A)]
    started = time.monotonic()
    done = hub("end-of-term", "--state", state, "--archive", str(archive))
    term.timings["end_of_term_s"] = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Removed 2 account(s) and their homes:" in done.stdout and "MB freed" in done.stdout, done.stdout
    with tarfile.open(archive / f"{STUDENT_A}.tar.gz") as tar:
        saved = json.load(tar.extractfile(f"{STUDENT_A}/tfbook/{NOTEBOOK}"))
    assert "".join(saved["cells"][0]["source"]) == "tfbterm-a1's own note"
    assert (archive / "MANIFEST.tsv").read_text().startswith("user\tfiles\tbytes")
    assert not accounts.exists(STUDENT_A) and not accounts.exists(TEACHER_A)
    assert not any(home.exists() for home in homes)
    assert not service.unit_path(term.state_a, term.units).exists()
    # A's assignments: archived (the gradebook), then removed with the grading account; B's untouched
    a, b = (hub_nbgrader.folders(term.settings(state)) for state in (term.state_a, term.state_b))
    assert "Removed the class's assignments" in done.stdout, done.stdout
    with tarfile.open(archive / f"nbgrader-{a.course_id}.tar.gz") as tar:
        names = tar.getnames()
    assert f"{a.course_id}/course/gradebook.db" in names and f"{a.course_id}/exchange/outbound" in names, names
    assert f"nbgrader:{a.course_id}" in (archive / "MANIFEST.tsv").read_text()
    assert not accounts.exists(a.grader) and not a.own.exists() and not a.exchanged.exists()
    assert not accounts.group_exists(a.group) and accounts.group_exists(b.group)
    assert accounts.exists(b.grader) and (b.course / "nbgrader_config.py").is_file()
