"""The end of a term, and a student's lost password.

``tfbook.py hub end-of-term`` archives every account's home (the course
folder with the student's edits, and anything else they made; caches left
out) as one tarball per account in ``/var/lib/tfbook-hub/archive/<class>-<date>/``
(root's only), reads each tarball back and compares every file with what was
written, and only then removes the accounts this class created, with their
homes.  It says how much that freed.  An account the class did not create
(an instructor's own account) is neither archived nor removed; one that
another class on this server also uses is archived and kept.

``tfbook.py hub reset-password NAME`` gives one account of the class a new
password, prints it and adds it to the class's ``passwords.csv`` (where the
greeting says passwords are).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

from . import HubError, accounts, classes, nbgrader
from .classes import running_pid
from .config import Settings
from .nbgrader import ClassFolders

ARCHIVE = classes.REGISTRY / "archive"
SKIPPED = (".cache", ".npm", ".local/share/jupyter/runtime")  # caches: rebuilt by themselves, never work


def _digest(stream) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: stream.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def _skipped(relative: str) -> bool:
    return any(relative == skip or relative.startswith(skip + "/") for skip in SKIPPED)


def archive_home(name: str, target: Path) -> tuple[int, int]:
    """``name``'s home as ``target`` (gzip tar, paths under ``name/``), then read back and
    compared file by file; returns (files, bytes).  Raises ``HubError`` when the check fails."""
    return archive_tree([(accounts.home(name), name)], target, f"{name}'s home")


def archive_tree(trees: list[tuple[Path, str]], target: Path, what: str) -> tuple[int, int]:
    """Each folder of ``trees`` (caches left out) into ``target`` (gzip tar) under its name, then read back
    and compared file by file; returns (files, bytes).  Raises ``HubError`` when the check fails."""
    written: dict[str, str] = {}
    with tarfile.open(target, "w:gz") as tar:
        for top, name in trees:
            tar.add(top, arcname=name, recursive=False)
            for folder, dirs, files in os.walk(top):
                relative_folder = os.path.relpath(folder, top)
                for entry in sorted(dirs + files):
                    path = Path(folder) / entry
                    relative = os.path.normpath(os.path.join(relative_folder, entry))
                    if _skipped(relative):
                        if entry in dirs:
                            dirs.remove(entry)
                        continue
                    tar.add(path, arcname=f"{name}/{relative}", recursive=False)
                    if path.is_file() and not path.is_symlink():
                        with open(path, "rb") as f:
                            written[f"{name}/{relative}"] = _digest(f)
    found: dict[str, str] = {}
    size = 0
    with tarfile.open(target, "r:gz") as tar:
        for member in tar:
            if member.isfile():
                found[member.name] = _digest(tar.extractfile(member))
                size += member.size
    if found != written:
        wrong = sorted(set(found.items()) ^ set(written.items()))
        raise HubError(f"the archive {target} does not hold {what} as it is ({wrong[0][0]} differs): "
                       "nothing was removed")
    return len(found), size


def _disk_usage(path: Path) -> int:
    total = 0
    for folder, dirs, files in os.walk(path):
        for entry in dirs + files:
            try:
                total += os.lstat(os.path.join(folder, entry)).st_blocks * 512
            except OSError:
                pass
    return total


def _megabytes(size: int) -> str:
    return f"{size / 2**20:,.0f} MB"


def end_of_term(state: Path, archive: Path | None = None, echo=print) -> int:
    """Archive every account's home, check the archives, then remove the class's accounts."""
    from . import service

    accounts.require_root("tfbook.py hub end-of-term")
    settings = Settings.load(state)
    if running_pid(state) is not None or classes.processes(state):
        raise HubError(f"the hub of {state} is running: stop it first (`sudo python3 tfbook.py hub stop --state "
                       f"{state}`), then run this again")
    created = set(accounts.read_passwords(state / accounts.PASSWORDS_FILE))
    people = [name for name in settings.students if accounts.exists(name)]
    if settings.instructor in created and accounts.exists(settings.instructor):
        people.append(settings.instructor)  # an instructor's own account is theirs: neither archived nor removed
    elsewhere = {name for other in classes.others(state) for name in [*other.students, other.instructor]}
    removable = [name for name in people if name in created and name not in elsewhere]
    folder = archive or ARCHIVE / f"{state.name}-{classes.class_id(state)[:6]}-{time.strftime('%Y-%m-%d')}"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)  # the students' work: root's only
    echo(f"Archiving {len(people)} home(s) into {folder} ...")
    manifest = ["user\tfiles\tbytes\tarchive"]
    for name in people:
        target = folder / f"{name}.tar.gz"
        files, size = archive_home(name, target)
        manifest.append(f"{name}\t{files}\t{size}\t{target.name}")
    assignments = _archive_assignments(settings, folder, manifest)
    (folder / "MANIFEST.tsv").write_text("\n".join(manifest) + "\n", encoding="utf-8")
    also = " and of the class's assignments" if assignments else ""
    echo(f"  checked: every file of every home{also} is in its archive ({_megabytes(_directory_size(folder))} in all)")
    freed, failed = 0, []
    for name in removable:
        home = accounts.home(name)
        size = _disk_usage(home)
        done = subprocess.run(["userdel", "--remove", name], capture_output=True, text=True)
        if done.returncode != 0 and accounts.exists(name):
            failed.append(f"{name} ({(done.stderr or done.stdout).strip().splitlines()[-1:]})")
            continue
        freed += size
    kept = [name for name in people if name not in removable]
    echo(f"Removed {len(removable) - len(failed)} account(s) and their homes: {_megabytes(freed)} freed."
         + (f" Kept {', '.join(kept)} (not created by this class, or used by another)." if kept else ""))
    if assignments:
        echo(_remove_assignments(settings, assignments, removable))
    if service.unit_path(state).is_file():
        echo(service.remove(state))
    if failed:
        echo(f"Could not remove: {', '.join(failed)}; run `sudo userdel --remove NAME` when they are free.")
        return 1
    classes.unregister(state)
    echo(f"The class of {state} is over; its archive: {folder}")
    return 0


def _archive_assignments(settings: Settings, folder: Path, manifest: list[str]) -> ClassFolders | None:
    """The class's nbgrader course (gradebook, sources, submissions, autograded, feedback) and its
    exchange folder (what was released, submissions not collected yet) as ``nbgrader-<course id>.tar.gz``."""
    f = nbgrader.folders(settings)
    if not f.own.is_dir() and not f.exchanged.is_dir():
        return None
    trees = [(f.course, f"{f.course_id}/course")] if f.course.is_dir() else []
    if f.exchanged.is_dir():
        trees.append((f.exchanged, f"{f.course_id}/exchange"))
    target = folder / f"nbgrader-{f.course_id}.tar.gz"
    if trees:
        files, size = archive_tree(trees, target, "the class's assignments")
        manifest.append(f"nbgrader:{f.course_id}\t{files}\t{size}\t{target.name}")
    return f


def _remove_assignments(settings: Settings, f: ClassFolders, removed: list[str]) -> str:
    """The class's nbgrader folders, its exchange folder and, unless another class still grades with it,
    the grading account (archived first: ``_archive_assignments``)."""
    size = _disk_usage(f.own) + _disk_usage(f.exchanged)
    shutil.rmtree(f.own, ignore_errors=True)
    shutil.rmtree(f.exchanged, ignore_errors=True)
    if accounts.group_exists(f.group):
        subprocess.run(["groupdel", f.group], capture_output=True)
    if settings.instructor not in removed and accounts.exists(settings.instructor):  # their own account: kept
        home = accounts.home(settings.instructor)
        if (home / nbgrader.COURSE_LINK).is_symlink() and os.readlink(home / nbgrader.COURSE_LINK) == str(f.course):
            (home / nbgrader.COURSE_LINK).unlink()
    grader = f"; kept the grading account {f.grader} (another class grades with it)"
    if accounts.exists(f.grader) and nbgrader.grading_elsewhere(settings) is None:
        size += _disk_usage(accounts.home(f.grader))
        done = subprocess.run(["userdel", "--remove", f.grader], capture_output=True, text=True)
        grader = (f", and the grading account {f.grader}" if not accounts.exists(f.grader)
                  else f"; could not remove the grading account {f.grader}: {(done.stderr or done.stdout).strip()}")
    elif not accounts.exists(f.grader):
        grader = ""
    return f"Removed the class's assignments ({f.course_id}: gradebook, submissions, exchange){grader}: " \
           f"{_megabytes(size)} freed."


def _directory_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.iterdir() if path.is_file())


def reset_password(state: Path, name: str) -> str:
    """A new password for ``name``, an account this class created; returns the line to print."""
    accounts.require_root("tfbook.py hub reset-password")
    settings = Settings.load(state)
    if name not in [*settings.students, settings.instructor]:
        raise HubError(f"{name!r} is not in the class of {state} (its instructor is {settings.instructor}, its "
                       f"students {', '.join(settings.students[:3])}{' ...' if len(settings.students) > 3 else ''})")
    passwords = state / accounts.PASSWORDS_FILE
    if not accounts.exists(name):
        raise HubError(f"the account {name!r} does not exist yet: the hub creates it when it starts")
    if name not in settings.students and name not in accounts.read_passwords(passwords):
        raise HubError(f"{name!r} is an account this class did not create: change its password with `passwd {name}`")
    password = accounts.set_password(name, passwords)
    return f"{name}'s new password: {password}  (also in {passwords})"
