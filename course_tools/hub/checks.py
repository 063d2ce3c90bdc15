"""Every setting of ``tfbook.py hub`` is checked before anything starts.

A setting that would break the class later (a memory size the spawner cannot
read answers every login with "500 Internal Server Error"; idle minutes of 0
stop each student's server while they work) is refused here, with one line
that names the option and the form it takes.  Where the meaning is plain,
the value is normalised instead (``3GB`` and ``3GiB`` are JupyterHub's
``3G``).

The accounts are checked too: the hub runs each student's server as that
student's system account and, at the end of term, removes the accounts it
created, so a roster may not name root, a system account, an account this
class did not create, or a student of another class on this server.
"""

from __future__ import annotations

import pwd
import re
from pathlib import Path

from . import HubError, accounts, classes

MEMORY = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMGT])(?:I?B)?$", re.IGNORECASE)  # 3G, 3GB, 3GiB, 512m, 2.5G
MIN_MEMORY = 256 * 2**20  # below this not even a server starts
UNITS = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
MIN_IDLE_MINUTES = 10  # shorter stops a student's server while they read a long cell's output
OFF = ("off", "never", "no")
FIRST_UID = 1000  # Debian's UID_MIN: below are system accounts (root is 0, daemon 1, ...)
NOBODY = 65534


def memory(value: str) -> str:
    """A memory size as JupyterHub's ``Spawner.mem_limit`` reads it: ``3GB`` -> ``3G``."""
    found = MEMORY.match(value.strip())
    if found is None or float(found.group(1)) * UNITS[found.group(2).upper()] < MIN_MEMORY:
        raise HubError(f"--mem-limit {value!r}: give a size of at least 256M, such as 3G, 2.5G or 512M "
                       "(units K, M, G, T; 3GB and 3GiB are read as 3G)")
    return f"{found.group(1)}{found.group(2).upper()}"


def idle_seconds(value: str | int) -> int:
    """``--idle-minutes``: whole minutes, at least ``MIN_IDLE_MINUTES``, or "off" (0: never stopped)."""
    text = str(value).strip().lower()
    if text in OFF:
        return 0
    if not text.isdigit() or int(text) < MIN_IDLE_MINUTES:
        raise HubError(f"--idle-minutes {value}: give whole minutes, at least {MIN_IDLE_MINUTES} (a server unused "
                       "that long is stopped; its files stay), or 'off' to keep servers running")
    return int(text) * 60


def port(value: int, option: str) -> int:
    if not 1 <= value <= 65535:
        raise HubError(f"{option} {value}: a port is a number from 1 to 65535")
    return value


def _system_uid(name: str) -> int | None:
    try:
        uid = pwd.getpwnam(name).pw_uid
    except KeyError:
        return None
    return uid if uid < FIRST_UID or uid == NOBODY else None


def check_accounts(students: list[str], instructor: str, state: Path) -> None:
    """Refuse, in one line, any account of the class that is another's.

    This class's own accounts are those it created (its ``passwords.csv``);
    the instructor may also be an existing personal account.  Another class
    is one registered on this machine from another state folder (see
    ``classes``): the roster of a running one, and the accounts any of them
    created (they are removed with it at its end of term), are its own."""
    accounts.check_names([*students, instructor])
    own = set(accounts.read_passwords(state / accounts.PASSWORDS_FILE))
    others = classes.others(state)
    for name in [instructor, *students]:
        option = "--instructor" if name == instructor else "--students"
        uid = _system_uid(name)
        if uid is not None:
            raise HubError(f"{option}: {name!r} is a system account (uid {uid}); the hub runs a server as each "
                           "account and removes them at the end of term: choose another name")
        for other in others:
            if name == instructor == other.instructor:
                continue  # one instructor may teach two classes
            on_roster = other.running and (name in other.students or name == other.instructor)
            if on_roster or (name in other.created and accounts.exists(name)):
                raise HubError(f"{option}: {name!r} belongs to another class ({other.state}, "
                               f"{'running' if other.running else 'stopped'}): each class needs its own accounts")
        if name != instructor and accounts.exists(name) and name not in own:
            raise HubError(f"--students: the account {name!r} already exists and this class did not create it "
                           f"(home {accounts.home(name)}): choose another name, or remove that account first")
