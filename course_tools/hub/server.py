"""Start, stop and look at the class's hub.

``start`` runs in the foreground, as ``jupyterhub`` itself does: it checks
what it needs (root, node and npm, free ports), installs or updates the
hub's environment, creates the missing accounts, starts JupyterHub, waits
until it answers, prints the link for the students, and then waits.
Ctrl-C there, or ``tfbook.py hub stop`` from another terminal, stops the
hub, which stops the proxy, every student's server (and their kernels) and
its services (the idle culler, the course's git daemon); what is left of
the students' processes afterwards (a TensorBoard started from a notebook)
is stopped too.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import HubError, accounts, nbgrader
from .config import Settings, check_port_free, free_port
from .environment import HubEnvironment

CONFIG_FILE = Path(__file__).resolve().parent / "jupyterhub_config.py"
STARTUP_S = 180  # a cold start on a busy 2-core machine takes 15-30 s
STOP_GRACE_S = 60  # the hub stops each server in turn
PID_FILE = "tfbook-hub.pid"  # the pid of the `tfbook.py hub` process that runs the hub
LOG_FILE = "jupyterhub.log"


def running_pid(state: Path) -> int | None:
    """The pid of the ``tfbook.py hub`` process serving from ``state``, if it runs."""
    try:
        pid = int((state / PID_FILE).read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _forget_own_pid(state: Path) -> None:
    """Remove the pid file if it is this process's (never another running hub's)."""
    try:
        if int((state / PID_FILE).read_text()) == os.getpid():
            (state / PID_FILE).unlink()
    except (OSError, ValueError):
        pass


def _hub_environment(settings_file: Path, env: HubEnvironment) -> dict[str, str]:
    keep = ("LANG", "LC_ALL", "TZ")
    environment = {k: v for k, v in os.environ.items() if k in keep}
    environment.update(PATH=f"{env.bin}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
                       TFBOOK_HUB_SETTINGS=str(settings_file), HOME=str(settings_file.parent))
    return environment


def _last_error(log: Path) -> str:
    """The line of the hub's log that best says why it stopped."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "no log"
    for marker in ("[E ", "[C ", "Error", "error"):
        found = [line for line in lines if marker in line]
        if found:
            return found[-1].strip()[:300]
    return lines[-1].strip()[:300] if lines else "the log is empty"


def health(url: str, timeout: float = 5) -> bool:
    context = ssl._create_unverified_context()  # a self-signed certificate is fine on our own machine
    try:
        with urllib.request.urlopen(f"{url}/hub/health", timeout=timeout, context=context) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


@dataclass
class Started:
    settings: Settings
    process: subprocess.Popen
    created: list[str]
    install_s: float


def launch(settings: Settings, echo: Callable[[str], None] = print) -> Started:
    """Everything up to a hub that answers; raises ``HubError`` with one line."""
    accounts.require_root("tfbook.py hub")
    state = settings.state_dir
    if (pid := running_pid(state)) is not None:
        raise HubError(f"a hub is already running from {state} (pid {pid}): stop it with `python3 tfbook.py hub stop`")
    check_port_free(settings.ip, settings.port, "the hub", "--port")
    if settings.serve_repo:
        check_port_free("127.0.0.1", settings.git_port, "the course's git daemon", "--git-port")
    env = HubEnvironment(Path(settings.prefix))
    install_s = env.ensure(echo)
    if install_s:
        echo(f"  installed in {install_s:.0f} s")
    accounts.check_names([*settings.students, settings.instructor])
    created = accounts.ensure_users([settings.instructor, *settings.students], state / accounts.PASSWORDS_FILE, echo)
    nbgrader.setup(settings, echo)  # the class's assignments: exchange, course folder, grading account
    settings.hub_port, settings.proxy_api_port = free_port(), free_port()
    settings_file = settings.save()
    (state / PID_FILE).write_text(f"{os.getpid()}\n")
    log = state / LOG_FILE
    with open(log, "ab") as out:
        process = subprocess.Popen([str(env.bin / "jupyterhub"), "-f", str(CONFIG_FILE)], cwd=state,
                                   env=_hub_environment(settings_file, env), stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + STARTUP_S
    while not health(settings.local_url):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            _forget_own_pid(state)
            raise HubError(f"the hub did not start: {_last_error(log)} (the whole log: {log})")
        time.sleep(0.5)
    return Started(settings, process, created, install_s)


def greeting(started: Started) -> str:
    s = started.settings
    state = s.state_dir
    lines = [
        f"The hub is up: {s.url}  (admin page: {s.url}/hub/admin, as {s.instructor})",
        "",
        "Link for the students (the first click copies the course into their home, later clicks bring",
        "your new commits and keep their own edits):",
        "",
        f"  {s.student_link()}",
        "",
        f"Accounts: {len(s.students)} students and {s.instructor}; the passwords of the accounts this command "
        f"created are in {state / accounts.PASSWORDS_FILE} (root's only).",
        f"Assignments: `python3 tfbook.py assignments --state {state} release NAME`; grading in the "
        f"Formgrader at {nbgrader.formgrader_url(s)} (as {s.instructor}, in its own tab).",
        f"Idle servers stop after {s.idle_timeout_s // 60} min. Log: {state / LOG_FILE}",
        "Stop with Ctrl-C, or `sudo python3 tfbook.py hub stop` from another terminal.",
    ]
    if solutions := nbgrader.solutions_served(s):
        lines.append(f"Note: the branch {s.branch} holds the solutions of the assignments {', '.join(solutions)}; "
                     "for graded work run `python3 tfbook.py assignments student-branch` and start with "
                     "--branch students.")
    if s.ip in ("127.0.0.1", "localhost", "::1"):
        lines.insert(1, "(only this machine can reach it; for the class, start it with --ip 0.0.0.0 "
                        "and --public-url https://NAME, behind HTTPS)")
    return "\n".join(lines)


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM to the hub (it stops its servers, proxy and services); SIGKILL to what is left after the grace."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:
                pass
            process.wait()


def stop_leftovers(settings: Settings, timeout: float = 10) -> int:
    """Stop the students' processes from the hub's environment that outlived
    their servers (a TensorBoard started from a notebook); returns how many."""
    users, venv = settings.students + [settings.instructor], HubEnvironment(Path(settings.prefix)).venv
    pids = accounts.processes_of(users, venv)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and accounts.processes_of(users, venv):
        time.sleep(0.2)
    for pid in accounts.processes_of(users, venv):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and accounts.processes_of(users, venv):
        time.sleep(0.2)
    return len(pids)


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def serve(settings: Settings, echo: Callable[[str], None] = print) -> int:
    """``tfbook.py hub start``: start, print the link, wait, stop cleanly."""
    previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    started = None
    try:
        started = launch(settings, echo)
        echo(greeting(started))
        code = started.process.wait()
        if code == 0:  # "Shutdown Hub" on the admin page
            echo("The hub was shut down from its admin page.")
            return 0
        echo(f"The hub stopped by itself (exit code {code}): {_last_error(settings.state_dir / LOG_FILE)}")
        return 1
    except _Stop:
        echo("\nStopping the hub, the students' servers and their kernels ...")
        return 0
    finally:
        for s in previous:
            signal.signal(s, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        try:
            if started is not None:
                stop_process(started.process)
                left = stop_leftovers(settings)
                echo("The hub has stopped" + (f" (and {left} process(es) the students had left running)." if left
                                             else "."))
        finally:
            _forget_own_pid(settings.state_dir)
            for s, handler in previous.items():
                signal.signal(s, handler)


def stop(state: Path, timeout: float = STOP_GRACE_S + 30) -> str:
    """``tfbook.py hub stop``: ask the running ``hub`` command to stop, and wait."""
    pid = running_pid(state)
    if pid is None:
        return f"No hub is running from {state}."
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running_pid(state) == pid:
        if time.monotonic() > deadline:
            raise HubError(f"the hub (pid {pid}) did not stop within {timeout:.0f} s: look at "
                           f"{state / LOG_FILE}, then kill it")
        time.sleep(0.3)
    return "The hub has stopped."


def _api(settings: Settings, path: str, timeout: float = 10) -> object:
    request = urllib.request.Request(f"{settings.local_url}{path}",
                                     headers={"Authorization": f"token {settings.status_token}"})
    context = ssl._create_unverified_context()
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
        return json.loads(response.read() or b"null")


def usage(settings: Settings) -> list[dict]:
    """Each user's server: running or not, last activity, and its memory and CPU
    as jupyter-resource-usage measures them (the numbers the student sees)."""
    rows = []
    for user in _api(settings, "/hub/api/users"):
        server = (user.get("servers") or {}).get("")
        row = {"user": user["name"], "running": bool(server and server.get("ready")),
               "last_activity": user.get("last_activity") or "-", "memory_mb": None, "cpu_percent": None,
               "limit_mb": None}
        if row["running"]:
            try:
                metrics = _api(settings, f"{server['url']}api/metrics/v1")
                row["memory_mb"] = metrics["rss"] / 2**20
                row["cpu_percent"] = metrics.get("cpu_percent")
                limit = (metrics.get("limits") or {}).get("memory", {}).get("rss")
                row["limit_mb"] = limit / 2**20 if limit else None
            except (OSError, urllib.error.URLError, KeyError, ValueError):
                pass
        rows.append(row)
    return rows


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def status(state: Path) -> str:
    settings = Settings.load(state)
    pid = running_pid(state)
    if pid is None or not health(settings.local_url):
        return f"No hub is running from {state}."
    rows = usage(settings)
    lines = [f"The hub runs at {settings.url} (pid {pid}); {sum(r['running'] for r in rows)} server(s) running.",
             "", f"{'user':<16} {'server':<8} {'memory MB':>10} {'limit MB':>9} {'CPU %':>6}  last activity"]
    for r in rows:
        lines.append(f"{r['user']:<16} {'running' if r['running'] else '-':<8} {_number(r['memory_mb'], ',.0f'):>10} "
                     f"{_number(r['limit_mb'], ',.0f'):>9} {_number(r['cpu_percent'], '.0f'):>6}  {r['last_activity']}")
    total = sum(r["memory_mb"] or 0 for r in rows)
    lines.append(f"{'all':<16} {'':<8} {total:>10,.0f}")
    return "\n".join(lines)
