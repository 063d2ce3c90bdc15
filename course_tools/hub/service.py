"""The hub as a systemd service: it outlives the instructor's terminal, starts at boot
and is started again if it fails -- by the init system, as JupyterHub's documentation
and The Littlest JupyterHub run a hub for real, not by a supervisor of our own.

``tfbook.py hub install-service`` checks the settings, prepares the class
(environment, accounts, the course's mirror), writes one unit per class,
``/etc/systemd/system/tfbook-hub-<state folder>.service``, then enables and
starts it.  The unit runs ``tfbook.py hub run --state STATE`` -- the same
foreground hub as ``hub start``, from the saved settings -- with
``Restart=on-failure``.  ``KillMode=mixed``: ``systemctl stop`` sends SIGTERM to
that command only, which stops JupyterHub, the students' servers and their
kernels in order, and systemd ends whatever is left in the unit's cgroup.

Where systemd is not running (a container; these test machines), the unit is
written and checked (``systemd-analyze verify``) but nothing is started.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from . import HubError
from .config import Settings
from .environment import REPO_ROOT

UNIT_DIR = Path(os.environ.get("TFBOOK_HUB_UNIT_DIR", "/etc/systemd/system"))
STOP_TIMEOUT_S = 120


def systemd_running() -> bool:
    """Whether this machine was booted with systemd (``sd_booted()``'s test)."""
    return Path("/run/systemd/system").is_dir()


def unit_name(state: Path) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.]+", "-", str(state).strip("/")).strip("-")
    return f"tfbook-hub-{slug[-180:] or 'root'}.service"


def unit_path(state: Path, unit_dir: Path | None = None) -> Path:
    return (unit_dir or UNIT_DIR) / unit_name(state)


def exec_start(state: Path) -> list[str]:
    """What the unit runs: this Python, this repository's ``tfbook.py hub run``."""
    return [sys.executable, str(REPO_ROOT / "tfbook.py"), "hub", "run", "--state", str(state)]


def _quote(arg: str) -> str:
    """One argument as systemd's command lines read it (quotes, no specifiers, no variables)."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./$-]+", arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unit_text(state: Path) -> str:
    return f"""\
# The class hub of {state}, written by `tfbook.py hub install-service`.
# Logs: `sudo python3 tfbook.py hub logs --state {state}` (or journalctl -u {unit_name(state)})
[Unit]
Description=tfbook class hub ({str(state).replace("%", "%%")})
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart={' '.join(_quote(arg) for arg in exec_start(state))}
WorkingDirectory={_quote(str(REPO_ROOT))}
Environment=PYTHONUNBUFFERED=1
Restart=on-failure
RestartSec=10
KillMode=mixed
TimeoutStopSec={STOP_TIMEOUT_S}

[Install]
WantedBy=multi-user.target
"""


def verify(path: Path) -> str:
    """``systemd-analyze verify``'s complaints about the unit ("" when it has none)."""
    done = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True)
    return (done.stderr + done.stdout).strip() if done.returncode != 0 else ""


def _systemctl(*args: str) -> None:
    done = subprocess.run(["systemctl", *args], capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()
        raise HubError(f"systemctl {' '.join(args)}: {last[-1] if last else f'exit code {done.returncode}'}")


def install(settings: Settings, echo=print, unit_dir: Path | None = None) -> int:
    """``tfbook.py hub install-service``: prepare the class, write the unit, enable and start it."""
    from . import server

    state = settings.state_dir
    server.prepare(settings, echo)
    path = unit_path(state, unit_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(unit_text(state), encoding="utf-8")
    if not systemd_running():
        echo(f"Wrote {path}. This machine was not booted with systemd, so nothing was started; on one that is, "
             f"this command also starts the hub. To run it here: sudo {' '.join(exec_start(state))}")
        return 0
    _systemctl("daemon-reload")
    _systemctl("enable", "--now", path.name)
    deadline = time.monotonic() + server.STARTUP_S
    while not server.health(settings.local_url):
        failed = subprocess.run(["systemctl", "is-failed", "--quiet", path.name]).returncode == 0
        if failed or time.monotonic() > deadline:
            raise HubError(f"the service {path.name} did not start: see `sudo python3 tfbook.py hub logs "
                           f"--state {state}`")
        time.sleep(1)
    echo(server.greeting(Settings.load(state)).replace(
        "Stop with Ctrl-C, or `sudo python3 tfbook.py hub stop` from another terminal.",
        f"It runs as the service {path.name}: it starts at boot and again if it fails. Stop it with "
        "`sudo python3 tfbook.py hub stop`; `hub remove-service` removes the service."))
    return 0


def managed(state: Path, unit_dir: Path | None = None) -> bool:
    """Whether systemd runs this class's hub now (not a `hub start` beside a stopped service)."""
    path = unit_path(state, unit_dir)
    return (systemd_running() and path.is_file()
            and subprocess.run(["systemctl", "is-active", "--quiet", path.name]).returncode == 0)


def stop(state: Path) -> str:
    _systemctl("stop", unit_name(state))
    return (f"The hub has stopped. Its service {unit_name(state)} starts it again at boot; "
            "`sudo python3 tfbook.py hub remove-service` removes it.")


def remove(state: Path, unit_dir: Path | None = None) -> str:
    """``tfbook.py hub remove-service``: stop and disable the class's service and delete its unit."""
    path = unit_path(state, unit_dir)
    if not path.is_file():
        return f"No service for {state} is installed ({path} does not exist)."
    if systemd_running():
        _systemctl("disable", "--now", path.name)
    path.unlink()
    if systemd_running():
        _systemctl("daemon-reload")
    return f"Removed the service {path.name}."
