"""A run is bound to its command: whatever ends ``python3 tfbook.py lecture``
-- a closed terminal (SIGHUP), SIGKILL to its process group, SIGTERM to the
wrapper, Ctrl-C -- ends its runner and kernel within seconds, keeps every
finished result and leaves no run folder; a later run spares a live run's
folder and ends a dead run's kernels.  Real processes, real signals, tiny
notebooks (see course_copy.py)."""

from __future__ import annotations

import os
import pty
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_tools import lifetime

from .course_copy import course_command, make_course_copy, read_terminal, through_the_wrapper
from .machine import none_left, processes_in, wait_until
from .test_runs import results


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_course_copy(tmp_path_factory.mktemp("signals") / "repo")


def run_folders(repo: Path) -> list[Path]:
    return list((repo / "build" / "runs").glob("*")) if (repo / "build" / "runs").is_dir() else []


def kernel_sleeping(repo: Path, timeout: float = 90) -> None:
    """Wait until the notebook that sleeps has its kernel running (its pid recorded)."""
    wait_until(lambda: any(f.read_text().strip() for f in (repo / "build" / "runs").glob("*/out/SLW.pid")),
               timeout, "the sleeping notebook's kernel")
    time.sleep(1)  # its cell is running


def ended_cleanly(repo: Path) -> None:
    assert none_left(repo, within=10) == []  # no wrapper, command, runner or kernel of this copy
    wait_until(lambda: run_folders(repo) == [], 5, "the run folder to go")


@pytest.mark.parametrize("how", ["sighup to the group", "sigkill to the group", "sigterm to the wrapper",
                                 "sigkill to the wrapper"])
def test_signal_ends_the_run_with_its_command(course: Path, how: str) -> None:
    (course / "build" / "lecture-quick" / "results.json").unlink(missing_ok=True)
    run = through_the_wrapper(course, "lecture", "--quick", "QKB", "SLW")
    kernel_sleeping(course)
    if how == "sighup to the group":  # the terminal was closed
        os.killpg(run.pid, signal.SIGHUP)
    elif how == "sigkill to the group":
        os.killpg(run.pid, signal.SIGKILL)
    elif how == "sigkill to the wrapper":  # the command gets SIGTERM when its parent dies
        run.send_signal(signal.SIGKILL)
    else:
        run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=40)
    ended_cleanly(course)
    assert results(course)["Quick two"]["result"] == "second"  # the finished notebook is kept
    assert "Sleeps" not in results(course)
    assert "Traceback" not in out + err
    if how != "sigkill to the group":  # the summary, when there is someone to print it
        name = "SIGHUP" if how.startswith("sighup") else "SIGTERM"
        assert f"Interrupted ({name}): 1 finished notebook(s) kept" in out, out + err
        assert "| total |" in out and "All results so far" in out


def test_signal_ctrl_c_through_the_wrapper_prints_the_summary_and_leaves_no_run_folder(course: Path) -> None:
    for attempt in range(10):
        screen, terminal = pty.openpty()  # a real terminal: ^C typed into it is Ctrl-C
        run = through_the_wrapper(course, "lecture", "--quick", "SLW", terminal=terminal)
        os.close(terminal)
        try:
            wait_until(lambda: run_folders(course) != [], 30, "the run to start")
            if attempt < 9:
                time.sleep(attempt * 0.15)  # Ctrl-C while copying, starting the runner, starting the kernel ...
            else:
                kernel_sleeping(course)  # ... and in a cell
            os.write(screen, b"\x03")
            shown = read_terminal(screen, run, timeout=40)
        finally:
            os.close(screen)
        assert run.wait(timeout=10) == 130, (attempt, shown)
        assert "Interrupted (SIGINT): 0 finished notebook(s) kept" in shown and "All results so far" in shown, \
            (attempt, shown)
        assert "Traceback" not in shown and "KeyboardInterrupt" not in shown
        wait_until(lambda: run_folders(course) == [], 5, f"the run folder to go (attempt {attempt})")
    ended_cleanly(course)


def test_signal_sigint_to_a_runner_is_recorded_as_stopped_not_as_a_dead_kernel(course: Path) -> None:
    run = course_command(course, "lecture", "--quick", "SLW", "QKB")
    kernel_sleeping(course)
    runner = next(int(p.split()[0]) for p in processes_in(course) if "course_tools.runner" in p)
    os.kill(runner, signal.SIGINT)
    out, err = run.communicate(timeout=60)
    slept = results(course)["Sleeps"]["error"]
    assert slept.startswith("stopped by SIGINT before it finished") and "kernel died" not in slept, slept
    assert results(course)["Quick two"]["result"] == "second"  # the run went on
    ended_cleanly(course)


def test_signal_a_later_run_spares_a_live_runs_folder_and_ends_a_dead_runs_kernel(course: Path) -> None:
    runs = course / "build" / "runs"
    live, dead = runs / "quick-20260101-000000-4194304", runs / "quick-20260101-000001-4194303"  # pids never used
    for folder in (live, dead):
        (folder / "out").mkdir(parents=True)
        (folder / "repo").mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time\n"
                               "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX)\n"
                               "print('held', flush=True); time.sleep(120)", str(live / ".alive")],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"  # the live run's command holds its lock
    (dead / ".alive").touch()  # nobody holds the dead run's lock
    kernel = subprocess.Popen(["sleep", "120"], cwd=dead / "repo", start_new_session=True)  # its kernel, left over
    stranger = subprocess.Popen(["sleep", "120"], cwd=course, start_new_session=True)  # a pid it recorded, reused
    (dead / "out" / "DIE.pid").write_text(str(kernel.pid))
    (dead / "out" / "ERR.pid").write_text(str(stranger.pid))
    try:
        code = course_command(course, "lecture", "--quick", "QKB").wait(timeout=90)
        assert code == 0
        assert live.is_dir() and (live / "out").is_dir()  # a live run's folder is never deleted
        assert not dead.exists()
        assert kernel.wait(timeout=5) == -signal.SIGKILL  # the dead run's kernel was ended
        assert stranger.poll() is None  # a process that only got a recorded pid was not
    finally:
        for process in (holder, kernel, stranger):
            process.kill()
            process.wait()
    assert not lifetime.is_live(live)  # once its command has ended, the next run deletes its folder
    shutil.rmtree(live)
