"""The ports and processes the hub's class test watches (Linux /proc)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from course_tools.hub import accounts


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def user_processes(names: tuple[str, ...]) -> dict[int, str]:
    """Every live process running as one of ``names``: its state and command line."""
    uids = {accounts.pwd.getpwnam(n).pw_uid for n in names if accounts.exists(n)}
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid in uids:
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found[int(entry.name)] = f"{state} {argv[:200]}"
        except (OSError, IndexError):
            pass
    return found


def user_pids(names: tuple[str, ...]) -> list[int]:
    """Every process running as one of ``names`` (zombies too: the clean-up kills them all)."""
    return list(user_processes(names))


def end_user_processes(names: tuple[str, ...]) -> None:
    """SIGKILL every process of the test's accounts (also those a failed run left behind)."""
    for pid in user_pids(names):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def remove_accounts(names: tuple[str, ...]) -> None:
    """The test's accounts and their homes, where they exist."""
    for name in names:
        if accounts.exists(name):
            subprocess.run(["userdel", "--remove", name], capture_output=True)


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {what}")
        time.sleep(0.5)
