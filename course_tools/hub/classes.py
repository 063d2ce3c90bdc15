"""The classes on this server, and the processes each one started.

Every hub registers its state folder in ``/var/lib/tfbook-hub/classes/``
(root's), so that a second class on the same server can see the first's
roster and accounts (``checks.check_accounts`` refuses to share them), and
the end of term removes the registration with the accounts.

Every process a hub starts carries the environment variable
``TFBOOK_HUB_CLASS=<class id>``: JupyterHub, its proxy and services get it
from the ``tfbook.py hub`` command, each student's server from
``c.Spawner.environment``, and kernels, terminals and TensorBoards inherit it
from the server.  ``hub stop`` ends exactly the processes that carry its
class's id, never another class's, whoever they run as.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from . import HubError

REGISTRY = Path(os.environ.get("TFBOOK_HUB_REGISTRY", "/var/lib/tfbook-hub"))
TAG = "TFBOOK_HUB_CLASS"
PID_FILE = "tfbook-hub.pid"  # the pid of the `tfbook.py hub` process that runs the hub


def class_id(state: Path) -> str:
    """A short id of the class whose state folder is ``state``."""
    return hashlib.sha256(str(state.resolve()).encode()).hexdigest()[:16]


def running_pid(state: Path) -> int | None:
    """The pid of the ``tfbook.py hub`` process serving from ``state``, if it runs."""
    try:
        pid = int((state / PID_FILE).read_text())
        os.kill(pid, 0)
        return pid
    except PermissionError:
        raise HubError(f"{state} is root's: run this as root (sudo python3 tfbook.py hub ...)") from None
    except (OSError, ValueError):
        return None


def register(state: Path) -> None:
    folder = REGISTRY / "classes"
    folder.mkdir(parents=True, exist_ok=True)
    REGISTRY.chmod(0o700)
    entry = folder / f"{class_id(state)}.json"
    entry.write_text(json.dumps({"state": str(state.resolve())}) + "\n", encoding="utf-8")


def unregister(state: Path) -> None:
    (REGISTRY / "classes" / f"{class_id(state)}.json").unlink(missing_ok=True)


@dataclass
class Class:
    state: Path
    students: list[str]
    instructor: str
    created: set[str]  # the accounts it created (its passwords.csv)
    running: bool


def others(state: Path) -> list[Class]:
    """The other classes registered on this machine whose state folder still exists."""
    from .accounts import PASSWORDS_FILE, read_passwords

    found = []
    for entry in sorted((REGISTRY / "classes").glob("*.json")):
        try:
            other = Path(json.loads(entry.read_text(encoding="utf-8"))["state"])
            settings = json.loads((other / "settings.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError):
            entry.unlink(missing_ok=True)  # a class whose state folder is gone: nothing of it to protect
            continue
        if other == state.resolve():
            continue
        found.append(Class(other, list(settings.get("students", [])), settings.get("instructor", ""),
                           set(read_passwords(other / PASSWORDS_FILE)), running_pid(other) is not None))
    return found


def processes(state: Path) -> list[int]:
    """The live processes that carry this class's id (see the module's text), from Linux's /proc."""
    tag = f"{TAG}={class_id(state)}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if tag not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue  # already dead, waiting for its parent to collect it
        except (OSError, IndexError):
            continue
        pids.append(int(entry.name))
    return pids


def end_processes(state: Path, grace: float = 10) -> int:
    """SIGTERM to every process of the class, SIGKILL to those left after ``grace``; returns how many."""
    pids = processes(state)
    for number, sig in enumerate((signal.SIGTERM, signal.SIGKILL)):
        for pid in processes(state) if number else pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and processes(state):
            time.sleep(0.2)
    return len(pids)
