"""What the course's git daemon serves: a mirror that holds the course branch only.

``git daemon`` exports whole repositories: pointed at the instructor's clone it
would let any local user clone every branch of it (a ``solutions`` branch
too).  So the daemon serves a bare mirror in the hub's state folder
(``<state>/course/<name>.git``) that holds one branch and only the objects
that branch reaches.  Before each clone or fetch, the daemon's access hook
brings that branch up to date from the instructor's clone, so a commit there
reaches the students at their next click, as before.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from . import HubError

HOOK = "refresh-course"


def folder(state: Path) -> Path:
    return state / "course"


def mirror(state: Path, repo: Path) -> Path:
    return folder(state) / f"{repo.name}.git"


def _git(*args: str, repo: Path) -> list[str]:
    return ["git", "-c", f"safe.directory={repo}", *args]


def fetch_command(state: Path, repo: Path, branch: str) -> list[str]:
    """Bring ``branch`` of the instructor's clone into the mirror (and nothing else)."""
    return _git("--git-dir", str(mirror(state, repo)), "fetch", "--quiet", "--no-tags", "--prune", str(repo),
                f"+refs/heads/{branch}:refs/heads/{branch}", repo=repo)


def prepare(state: Path, repo: Path, branch: str) -> Path:
    """Create or refresh the mirror and write the daemon's access hook; returns the mirror."""
    target = mirror(state, repo)
    if not (target / "HEAD").is_file():
        target.mkdir(parents=True, exist_ok=True)
        _run(["git", "init", "--quiet", "--bare", str(target)], "creating the course's mirror")
    _run(fetch_command(state, repo, branch), f"copying the branch {branch} of {repo}")
    _run(["git", "--git-dir", str(target), "symbolic-ref", "HEAD", f"refs/heads/{branch}"], "naming the branch")
    stale = subprocess.run(["git", "--git-dir", str(target), "for-each-ref", "--format=%(refname)"],
                           capture_output=True, text=True).stdout.split()
    for ref in stale:  # a branch of an earlier start (another --branch)
        if ref != f"refs/heads/{branch}":
            _run(["git", "--git-dir", str(target), "update-ref", "-d", ref], "removing an old branch")
    hook = folder(state) / HOOK
    lock = shlex.quote(str(target) + ".lock")
    hook.write_text("#!/bin/sh\n"
                    "# git daemon runs this before each clone or fetch: the course branch, up to date\n"
                    f"exec 9>{lock}\nflock 9\n"
                    f"{shlex.join(fetch_command(state, repo, branch))} >/dev/null 2>&1\n"
                    "exit 0  # serve what the mirror holds even if the instructor's clone is unreadable now\n",
                    encoding="utf-8")
    hook.chmod(0o700)
    return target


def daemon_command(state: Path, repo: Path, port: int) -> list[str]:
    """``git daemon`` on 127.0.0.1 serving only the mirror, read-only."""
    return ["git", "daemon", "--reuseaddr", "--listen=127.0.0.1", f"--port={port}",
            f"--base-path={folder(state)}", f"--access-hook={folder(state) / HOOK}", "--export-all",
            str(mirror(state, repo))]


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()
        raise HubError(f"{what} failed: {last[-1] if last else f'exit code {done.returncode}'}")
