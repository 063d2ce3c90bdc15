"""What a machine does to the tooling, for real: a small disk that fills up
(tmpfs), a file that cannot be replaced (a read-only bind mount), and the
processes a run leaves (or must not leave) behind.

Mounting needs root.  CI runs as root (``.ci/run``, ``TFBOOK_REQUIRE_HUB=1``)
and fails a test that cannot mount; elsewhere such a test is skipped and says why.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def needs_root() -> None:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return
    if os.environ.get("TFBOOK_REQUIRE_HUB") == "1":  # CI: root is promised
        pytest.fail("this test mounts a small file system and must run as root in CI")
    pytest.skip("mounting a small file system needs root")


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (e.g. '40m') mounted on ``folder`` for the block."""
    needs_root()
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(disk: Path, leave: int) -> None:
    """Fill ``disk`` up, leaving about ``leave`` bytes free (a file beside what is tested)."""
    filler = disk / "filler"
    with open(filler, "wb") as f:
        with contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * (1 << 20))
                f.flush()
    with contextlib.suppress(OSError):
        with open(filler, "ab") as f:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
    os.truncate(filler, max(0, filler.stat().st_size - leave))


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` (a file or folder) bound read-only onto itself: it can be read, never replaced or removed."""
    needs_root()
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def processes_in(folder: Path) -> list[str]:
    """'pid command' of every process that works in ``folder`` or names it on its command line."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if str(folder) in command or cwd == str(folder) or cwd.startswith(f"{folder}/"):
            found.append(f"{proc.name} {command[:150]}")
    return found


def wait_until(condition, timeout: float, what: str, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(step)


def none_left(folder: Path, within: float) -> list[str]:
    """The processes of ``folder`` still alive after ``within`` seconds ([] as soon as there are none)."""
    deadline = time.monotonic() + within
    while (left := processes_in(folder)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left
