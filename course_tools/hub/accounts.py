"""One system user per student, whose home only they can read.

The hub logs students in with their system account (PAM) and runs each
student's server as that user, so the operating system keeps students out
of each other's files.  ``ensure_users`` creates the accounts that are
missing, with a home of mode 700 (Debian's ``useradd`` makes 755 homes,
which every other user can read) and a random password, written to
``passwords.csv`` in the hub's state folder (root's only) for the
instructor to hand out.  Accounts that already exist keep their password.
"""

from __future__ import annotations

import csv
import grp
import io
import os
import pwd
import re
import secrets
import subprocess
from collections.abc import Callable
from pathlib import Path

from . import HubError

NAME = re.compile(r"^[a-z][a-z0-9_-]{0,30}$")  # what Debian's useradd accepts, and a clean URL
PASSWORD_CHARS = "abcdefghijkmnpqrstuvwxyz23456789"  # no l/1, o/0: read aloud or off a slip
PASSWORD_LENGTH = 10
PASSWORDS_FILE = "passwords.csv"


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise HubError(f"{what} needs root: run it with sudo (sudo python3 tfbook.py hub ...). The hub creates one "
                       "system user per student and runs each student's server as that user, so that no student "
                       "can read another's files.")


def roster(spec: str) -> list[str]:
    """The students: ``"30"`` means student01 ... student30; anything else is
    a file with one name per line (``#`` starts a comment)."""
    if spec.isdigit():
        count = int(spec)
        if not 1 <= count <= 999:
            raise HubError(f"--students {spec}: give between 1 and 999 students, or a file of names")
        width = max(2, len(str(count)))
        return [f"student{n:0{width}d}" for n in range(1, count + 1)]
    if not spec.strip():
        raise HubError("--students '': give the number of students (30: student01 ... student30) or a file "
                       "with one user name per line")
    path = Path(spec)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise HubError(f"--students {spec}: not a number and not a readable file ({error.strerror})") from None
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        name = line.split("#", 1)[0].strip().lower()
        if not name:
            continue
        if name in seen:
            raise HubError(f"--students {spec}: {name!r} is listed twice (lines {seen[name]} and {number}): "
                           "each student needs a line of their own")
        seen[name] = number
    if not seen:
        raise HubError(f"--students {spec}: the file names no student (one user name per line)")
    return list(seen)


def check_names(names: list[str]) -> None:
    bad = [name for name in names if not NAME.match(name)]
    if bad:
        raise HubError(f"cannot create the user {bad[0]!r}: a name must start with a lowercase letter and hold only "
                       "a-z, 0-9, '_' or '-' (at most 31 characters); rename it in the roster")


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def home(name: str) -> Path:
    return Path(pwd.getpwnam(name).pw_dir)


def new_password() -> str:
    return "".join(secrets.choice(PASSWORD_CHARS) for _ in range(PASSWORD_LENGTH))


def run(args: list[str], what: str, stdin: str | None = None) -> None:
    """``args`` (useradd, groupadd, ...); a failure raises ``HubError`` with the tool's last line."""
    try:
        done = subprocess.run(args, input=stdin, capture_output=True, text=True)
    except FileNotFoundError:
        raise HubError(f"{what}: {args[0]} is missing (Debian: apt-get install passwd)") from None
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise HubError(f"{what}: {message[-1] if message else f'exit code {done.returncode}'}")


def create_user(name: str, password: str) -> None:
    """A system user with a private home and ``password``."""
    run(["useradd", "--create-home", "--shell", "/bin/bash", "--key", "HOME_MODE=0700",
              "--comment", "tfbook hub user", name], f"cannot create the user {name}")
    home(name).chmod(0o700)  # older useradd versions ignore HOME_MODE
    run(["chpasswd"], f"cannot set the password of {name}", stdin=f"{name}:{password}\n")


def ensure_users(names: list[str], passwords_file: Path, echo: Callable[[str], None] = print) -> list[str]:
    """Create the accounts of ``names`` that are missing; returns the names created.
    Their passwords are added to ``passwords_file`` (mode 600)."""
    check_names(names)
    missing = [name for name in names if not exists(name)]
    if not missing:
        return []
    echo(f"Creating {len(missing)} account(s): {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    passwords_file.parent.mkdir(parents=True, exist_ok=True)
    passwords_file.touch(mode=0o600)
    with open(passwords_file, "a", encoding="utf-8", newline="") as f:
        if f.tell() == 0:
            f.write("user,password\n")
        for name in missing:
            password = new_password()
            create_user(name, password)
            f.write(_csv_row(name, password))
            f.flush()
    return missing


def set_password(name: str, passwords_file: Path) -> str:
    """A new password for ``name``, set and added to ``passwords_file`` (the last line of a user counts)."""
    password = new_password()
    run(["chpasswd"], f"cannot set the password of {name}", stdin=f"{name}:{password}\n")
    passwords_file.touch(mode=0o600)
    with open(passwords_file, "a", encoding="utf-8", newline="") as f:
        if f.tell() == 0:
            f.write("user,password\n")
        f.write(_csv_row(name, password))
    return password


def _csv_row(*fields: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(fields)
    return out.getvalue()


def read_passwords(passwords_file: Path) -> dict[str, str]:
    """The passwords of the accounts the hub created (the last one given, per user)."""
    if not passwords_file.is_file():
        return {}
    with open(passwords_file, encoding="utf-8", newline="") as f:
        return {row["user"]: row["password"] for row in csv.DictReader(f)}
