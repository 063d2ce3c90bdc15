"""Start, stop and look at the class's hub.

``start`` runs in the foreground, as ``jupyterhub`` itself does: it checks
every setting and account (``checks``), installs or updates the hub's
environment, creates the missing accounts, starts JupyterHub, waits until it
answers, prints the link for the students, and then waits.  Ctrl-C there,
losing the terminal (SIGHUP), SIGTERM from ``tfbook.py hub stop`` or from
systemd (``service``) stop the hub, which stops the proxy, every student's
server (and their kernels) and its services (the idle culler, the course's
git daemon); what is left of the class's processes afterwards (a TensorBoard
started from a notebook) is stopped too -- the processes that carry this
class's mark (``classes``), and no other class's.  If the command itself is
killed outright, the kernel sends JupyterHub SIGTERM (``PR_SET_PDEATHSIG``),
and ``hub stop`` still finds what is left by the class's mark.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import HubError, accounts, checks, classes, course_git, nbgrader
from .classes import PID_FILE, running_pid
from .config import Settings, check_port_free, free_port
from .environment import HubEnvironment

CONFIG_FILE = Path(__file__).resolve().parent / "jupyterhub_config.py"
STARTUP_S = 180  # a cold start on a busy 2-core machine takes 15-30 s
STOP_GRACE_S = 60  # the hub stops each server in turn
LOG_FILE = "jupyterhub.log"


def _own_pid_file(state: Path) -> bool:
    try:
        return int((state / PID_FILE).read_text()) == os.getpid()
    except (OSError, ValueError):
        return False


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
    environment[classes.TAG] = classes.class_id(settings_file.parent)
    return environment


def _end_with_parent() -> None:
    """In the hub's process, before it runs JupyterHub: SIGTERM when the ``tfbook.py hub``
    process ends in any way (even SIGKILL), so that the hub never outlives its command."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


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


def prepare(settings: Settings, echo: Callable[[str], None] = print) -> tuple[HubEnvironment, list[str], float]:
    """Everything before JupyterHub starts, checks first: raises ``HubError`` with one line
    before anything is created when a setting or an account is wrong.  Returns the
    environment, the accounts created and the seconds the environment's install took."""
    accounts.require_root("tfbook.py hub")
    state = settings.state_dir
    if (pid := running_pid(state)) is not None:
        raise HubError(f"a hub is already running from {state} (pid {pid}): stop it with `python3 tfbook.py hub stop`")
    checks.check_accounts(settings.students, settings.instructor, state)
    check_port_free(settings.ip, settings.port, "the hub", "--port")
    if settings.serve_repo:
        check_port_free("127.0.0.1", settings.git_port, "the course's git daemon", "--git-port")
    if left := classes.processes(state):  # an earlier run of this class that was killed outright
        echo(f"Stopping {len(left)} process(es) an earlier run of this class left behind ...")
        classes.end_processes(state)
    env = HubEnvironment(Path(settings.prefix))
    install_s = env.ensure(echo)
    if install_s:
        echo(f"  installed in {install_s:.0f} s")
    settings.class_id = classes.class_id(state)
    settings.save()
    classes.register(state)
    created = accounts.ensure_users([settings.instructor, *settings.students], state / accounts.PASSWORDS_FILE, echo)
    nbgrader.setup(settings, echo)  # the class's assignments: exchange, course folder, grading account
    if settings.serve_repo:
        repo = Path(settings.serve_repo)
        course_git.prepare(state, repo, settings.branch)
        settings.git_daemon = course_git.daemon_command(state, repo, settings.git_port)
    settings.save()
    return env, created, install_s


def launch(settings: Settings, echo: Callable[[str], None] = print) -> Started:
    """Everything up to a hub that answers; raises ``HubError`` with one line."""
    env, created, install_s = prepare(settings, echo)
    state = settings.state_dir
    settings.hub_port, settings.proxy_api_port = free_port(), free_port()
    settings_file = settings.save()
    (state / PID_FILE).write_text(f"{os.getpid()}\n")
    log = state / LOG_FILE
    with open(log, "ab") as out:
        process = subprocess.Popen([str(env.bin / "jupyterhub"), "-f", str(CONFIG_FILE)], cwd=state,
                                   env=_hub_environment(settings_file, env), stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=_end_with_parent)
    deadline = time.monotonic() + STARTUP_S
    while not health(settings.local_url):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            classes.end_processes(state)
            _forget_own_pid(state)
            raise HubError(f"the hub did not start: {_last_error(log)} (the whole log: {log})")
        time.sleep(0.5)
    return Started(settings, process, created, install_s)


def greeting(s: Settings) -> str:
    state = s.state_dir
    listed = accounts.read_passwords(state / accounts.PASSWORDS_FILE)
    unlisted = [name for name in [*s.students, s.instructor] if name not in listed]
    idle = (f"Idle servers stop after {s.idle_timeout_s // 60} min." if s.idle_timeout_s
            else "Idle servers keep running.")
    lines = [
        f"The hub is up: {s.url}  (admin page: {s.url}/hub/admin, as {s.instructor})",
        "",
        "Link for the students (the first click copies the course into their home, later clicks bring",
        "your new commits and keep their own edits):",
        "",
        f"  {s.student_link()}",
        "",
        f"Accounts: {len(s.students)} students and {s.instructor}; their passwords are in "
        f"{state / accounts.PASSWORDS_FILE} (root's only).",
        nbgrader.greeting(s),
        f"{idle} Log: {state / LOG_FILE}  (or `sudo python3 tfbook.py hub logs`)",
        "Stop with Ctrl-C, or `sudo python3 tfbook.py hub stop` from another terminal.",
    ]
    if unlisted:
        lines.insert(-2, f"{len(unlisted)} account(s) have no password there ({', '.join(unlisted[:3])}"
                         f"{' ...' if len(unlisted) > 3 else ''}): give one with "
                         "`sudo python3 tfbook.py hub reset-password NAME`.")
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
    """Stop this class's processes that outlived the hub (a TensorBoard started
    from a notebook); returns how many.  Only processes that carry the class's
    mark: another class's students are never touched."""
    return classes.end_processes(settings.state_dir, timeout)


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def _teller(echo: Callable[[str], None], log: Path) -> Callable[[str], None]:
    """``echo`` that never fails (a terminal lost to SIGHUP cannot be written to), and
    that also writes to the hub's log, where ``hub logs`` shows it."""
    def tell(text: str) -> None:
        try:
            echo(text)
            sys.stdout.flush()
        except OSError:
            pass
        try:
            with open(log, "a", encoding="utf-8") as f:
                stamp = time.strftime("%Y-%m-%d %H:%M:%S")
                f.writelines(f"[tfbook.py hub {stamp}] {line}\n" for line in text.strip("\n").splitlines())
        except OSError:
            pass
    return tell


def serve(settings: Settings, echo: Callable[[str], None] = print) -> int:
    """``tfbook.py hub start`` (and ``hub run``, what the service runs): start, print the link,
    wait; stop cleanly on Ctrl-C, SIGTERM or a lost terminal (SIGHUP)."""
    previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    started = None
    tell = _teller(echo, settings.state_dir / LOG_FILE)
    try:
        started = launch(settings, tell)
        tell(greeting(started.settings))
        code = started.process.wait()
        if code == 0:  # "Shutdown Hub" on the admin page
            tell("The hub was shut down from its admin page.")
            return 0
        tell(f"The hub stopped by itself (exit code {code}): {_last_error(settings.state_dir / LOG_FILE)}")
        return 1
    except _Stop as why:
        tell(f"\nStopping the hub ({why}), the students' servers and their kernels ...")
        return 0
    finally:
        for s in previous:
            signal.signal(s, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        try:
            if started is not None:
                stop_process(started.process)
                left = stop_leftovers(settings)
                tell("The hub has stopped" + (f" (and {left} process(es) the students had left running)." if left
                                             else "."))
            elif _own_pid_file(settings.state_dir):  # stopped while it started: end what it had started
                stop_leftovers(settings)
        finally:
            _forget_own_pid(settings.state_dir)
            for s, handler in previous.items():
                signal.signal(s, handler)


def stop(state: Path, timeout: float = STOP_GRACE_S + 30) -> str:
    """``tfbook.py hub stop``: ask the running ``hub`` command (or its service) to stop, and wait;
    then end what is left of this class's processes (and only this class's)."""
    from . import service

    if service.managed(state):
        return service.stop(state)
    pid = running_pid(state)
    if pid is None:
        left = classes.end_processes(state) if classes.processes(state) else 0
        if left:
            return f"The hub's command was gone; stopped the {left} process(es) of this class it had left running."
        return f"No hub is running from {state}."
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running_pid(state) == pid:
        if time.monotonic() > deadline:
            raise HubError(f"the hub (pid {pid}) did not stop within {timeout:.0f} s: look at "
                           f"{state / LOG_FILE}, then kill it")
        time.sleep(0.3)
    classes.end_processes(state)
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
    if pid is None:
        left = classes.processes(state)
        return (f"No hub is running from {state}" + (f", but {len(left)} process(es) of this class are left: end "
                                                     "them with `sudo python3 tfbook.py hub stop`." if left else "."))
    if not health(settings.local_url):
        return f"The hub's command runs (pid {pid}) but the hub does not answer at {settings.local_url}: " \
               f"it is starting or stopping (look at `sudo python3 tfbook.py hub logs`)."
    rows = usage(settings)
    lines = [f"The hub runs at {settings.url} (pid {pid}); {sum(r['running'] for r in rows)} server(s) running.",
             "", f"{'user':<16} {'server':<8} {'memory MB':>10} {'limit MB':>9} {'CPU %':>6}  last activity"]
    for r in rows:
        lines.append(f"{r['user']:<16} {'running' if r['running'] else '-':<8} {_number(r['memory_mb'], ',.0f'):>10} "
                     f"{_number(r['limit_mb'], ',.0f'):>9} {_number(r['cpu_percent'], '.0f'):>6}  {r['last_activity']}")
    total = sum(r["memory_mb"] or 0 for r in rows)
    lines.append(f"{'all':<16} {'':<8} {total:>10,.0f}")
    return "\n".join(lines)
