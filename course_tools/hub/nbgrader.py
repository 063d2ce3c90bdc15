"""The class's assignments on the hub (nbgrader), set up by ``tfbook.py hub`` with no manual step.

Each class has its own nbgrader course, whose id comes from its state folder
(``course_id``: ``tfbook-<folder name>-<6 hex>``), so that two classes on one
server never see each other's assignments.  What ``setup`` prepares, under
``<prefix>/nbgrader/`` (the hub's environment folder, readable by every user):

* ``exchange/`` -- nbgrader's exchange, shared by the classes, root's with
  mode 1777: the instructor cannot create it, and the sticky bit keeps
  students from renaming a course's folder in it; ``exchange/<course id>/``
  is the instructor's with the class's group ``tfbook-<6 hex>`` (its students
  and instructor) and mode 750, so no one of another class can enter it
  (nbgrader makes ``inbound/`` 2733 and ``outbound/`` 755 inside);
* ``<course id>/course/`` -- the instructor's nbgrader course folder (sources,
  gradebook, submissions), the instructor's with group ``<instructor>-grader``
  and mode 2750: no student can read it;
* ``<course id>/files/`` -- the course's ``tfbook_utils``, data and checkpoints,
  for the autograde kernels;
* the grading account ``<instructor>-grader``: autograde runs the students'
  code as this user (``grader_kernel.py``), who can read the course folder but
  not change the gradebook;
* nbgrader's config: what every class shares in the environment's
  ``etc/jupyter`` (the exchange, the cell timeout, the Formgrader and the
  "create assignment" tools off: the server extension answers 404, the Lab
  plugins are not loaded); the class's course id in each student's and the
  instructor's own ``~/.jupyter`` (theirs), and the grading tools back on in
  the instructor's, with the course folder linked as ``~/tfbook-course``
  (the Formgrader needs it under the server's root).  The Formgrader opens in
  its own tab (``/user/<instructor>/formgrader``): the hub forbids frames.

One instructor account grades one class's assignments (nbgrader's Formgrader
serves one course per account): a second class with the same instructor runs
without assignments, and says so, until the first class's end of term.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .. import catalog
from ..assignments.course import Course, config_text
from . import HubError, accounts, classes
from .config import Settings

HERE = Path(__file__).resolve().parent
FORMGRADER = "nbgrader.server_extensions.formgrader"
GRADING_TOOLS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment")
COURSE_FILES = ("tfbook_utils", "data", "checkpoints")
COURSE_LINK = "tfbook-course"  # in the instructor's home: the course folder, where the Formgrader finds it


@dataclass(frozen=True)
class ClassFolders:
    prefix: Path
    instructor: str
    course_id: str

    @property
    def base(self) -> Path:
        return self.prefix / "nbgrader"

    @property
    def exchange(self) -> Path:
        return self.base / "exchange"

    @property
    def own(self) -> Path:
        """Everything of this class's assignments but its exchange entries."""
        return self.base / self.course_id

    @property
    def course(self) -> Path:
        return self.own / "course"

    @property
    def files(self) -> Path:
        return self.own / "files"

    @property
    def kernels(self) -> Path:
        """The kernelspec autograde uses (JUPYTER_PATH), which starts kernels as the grader."""
        return self.own / "grading"

    @property
    def exchanged(self) -> Path:
        """This class's folder in the exchange (nbgrader makes it at the first release)."""
        return self.exchange / self.course_id

    @property
    def grader(self) -> str:
        return f"{self.instructor}-grader"[:31]

    @property
    def group(self) -> str:
        """The class's group (its students and instructor): only they can enter its exchange folder."""
        return f"tfbook-{self.course_id.rsplit('-', 1)[-1]}"

    @property
    def venv(self) -> Path:
        return self.prefix / "venv"


def course_id(state: Path) -> str:
    """The class's nbgrader course id, from its state folder: ``tfbook-<folder name>-<6 hex of its class id>``
    (letters, digits and '-': a folder name in the exchange, and what students see in their Assignments list)."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", state.name).strip("-")[:24] or "class"
    return f"tfbook-{name}-{classes.class_id(state)[:6]}"


def folders(settings: Settings) -> ClassFolders:
    return ClassFolders(Path(settings.prefix), settings.instructor, course_id(settings.state_dir))


def course(settings: Settings) -> Course:
    """The class's course folder, with nbgrader run from the hub's environment as the instructor."""
    f = folders(settings)
    return Course(root=f.course, course_id=f.course_id, python=str(f.venv / "bin" / "python"),
                  user=settings.instructor, exchange=f.exchange)


def grading_elsewhere(settings: Settings) -> Path | None:
    """The state folder of another class on this server whose assignments this class's instructor already
    grades (one course per instructor account), if there is one."""
    for other in classes.others(settings.state_dir):
        if other.instructor != settings.instructor:
            continue
        try:
            theirs = folders(Settings.load(other.state))
        except HubError:
            continue
        if (theirs.course / "nbgrader_config.py").is_file():
            return other.state
    return None


def refusal(settings: Settings, elsewhere: Path) -> str:
    return (f"assignments are off for the class of {settings.state}: its instructor {settings.instructor} grades "
            f"the assignments of the class of {elsewhere} (one nbgrader course per instructor account); start "
            "this class with another --instructor, or after that class's end of term")


def _write(path: Path, text: str, owner: str | None = None, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    if owner:
        account = pwd.getpwnam(owner)
        for p in (path, path.parent):
            os.chown(p, account.pw_uid, account.pw_gid)


def _json(path: Path, data: dict, owner: str | None = None) -> None:
    _write(path, json.dumps(data, indent=1) + "\n", owner)


def setup(settings: Settings, echo=print) -> ClassFolders | None:
    """Everything the class's assignments need; safe to run at every start.  None (and a line saying why)
    when the instructor already grades another class's assignments."""
    if (elsewhere := grading_elsewhere(settings)) is not None:
        echo(f"Note: {refusal(settings, elsewhere)}.")
        return None
    f = folders(settings)
    if not accounts.exists(f.grader):
        accounts.create_user(f.grader, accounts.new_password())  # not on the hub's roster: cannot log in
    grader = pwd.getpwnam(f.grader)
    teacher = pwd.getpwnam(settings.instructor)
    f.base.mkdir(parents=True, exist_ok=True)
    f.base.chmod(0o755)
    f.exchange.mkdir(exist_ok=True)
    f.exchange.chmod(0o1777)
    # the class's folder in the exchange: its members only (nbgrader keeps the mode of a folder it finds)
    members = [settings.instructor, *(name for name in settings.students if accounts.exists(name))]
    if not accounts.group_exists(f.group):
        accounts.run(["groupadd", f.group], f"cannot create the group {f.group}")
    accounts.run(["gpasswd", "-M", ",".join(members), f.group], f"cannot set the members of {f.group}")
    f.exchanged.mkdir(exist_ok=True)
    os.chown(f.exchanged, teacher.pw_uid, grp.getgrnam(f.group).gr_gid)
    f.exchanged.chmod(0o750)
    f.course.mkdir(parents=True, exist_ok=True)
    f.course.parent.chmod(0o755)
    os.chown(f.course, teacher.pw_uid, grader.pw_gid)
    f.course.chmod(0o2750)
    # the course's own files, for the autograde kernels (data, checkpoints)
    source = Path(settings.serve_repo) if settings.serve_repo else Path(__file__).resolve().parents[2]
    f.files.mkdir(parents=True, exist_ok=True)
    for name in COURSE_FILES:
        if (source / name).is_dir():
            shutil.copytree(source / name, f.files / name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
    for path in [f.files, *f.files.rglob("*")]:  # readable by the grading account
        path.chmod(0o755 if path.is_dir() else 0o644)
    # the autograde kernel: started as root by nbgrader, it drops to the grading account
    f.kernels.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HERE / "grader_kernel.py", f.kernels / "grader_kernel.py")
    _json(f.kernels / "kernels" / "python3" / "kernel.json", {
        "argv": [str(f.venv / "bin" / "python"), str(f.kernels / "grader_kernel.py"), f.grader, str(f.files),
                 "{connection_file}"],
        "display_name": "Python 3 (grading)", "language": "python"})
    # nbgrader's config: what every class shares (the environment), the course folder, each user's course id
    _write(f.venv / "etc" / "jupyter" / "nbgrader_config.py", config_text(None, None, f.exchange))
    _write(f.course / "nbgrader_config.py", config_text(f.course, f.course_id, f.exchange), owner=settings.instructor)
    for student in settings.students:
        if accounts.exists(student):
            _write(accounts.home(student) / ".jupyter" / "nbgrader_config.py",
                   config_text(None, f.course_id, f.exchange), owner=student)
    os.chown(f.course, teacher.pw_uid, grader.pw_gid)
    f.course.chmod(0o2750)
    home = accounts.home(settings.instructor)
    # the Formgrader works only on a course folder under the server's root (the instructor's home)
    link = home / COURSE_LINK
    if link.is_symlink() or not link.exists():
        link.unlink(missing_ok=True)
        link.symlink_to(f.course)
        os.chown(link, teacher.pw_uid, teacher.pw_gid, follow_symlinks=False)
    _write(home / ".jupyter" / "nbgrader_config.py", config_text(link, f.course_id, f.exchange),
           owner=settings.instructor)
    # the grading tools: off for everyone, on for the instructor (user config wins over the environment's)
    server_d = f.venv / "etc" / "jupyter" / "jupyter_server_config.d" / "nbgrader.json"
    if server_d.is_file():
        data = json.loads(server_d.read_text(encoding="utf-8"))
        data.setdefault("ServerApp", {}).setdefault("jpserver_extensions", {})[FORMGRADER] = False
        _json(server_d, data)
    _json(f.venv / "etc" / "jupyter" / "labconfig" / "page_config.json",
          {"disabledExtensions": {name: True for name in GRADING_TOOLS}})
    _json(home / ".jupyter" / "jupyter_server_config.json",
          {"ServerApp": {"jpserver_extensions": {FORMGRADER: True}}}, owner=settings.instructor)
    _json(home / ".jupyter" / "labconfig" / "page_config.json",
          {"disabledExtensions": {name: False for name in GRADING_TOOLS}}, owner=settings.instructor)
    os.chown(home / ".jupyter", teacher.pw_uid, teacher.pw_gid)
    return f


def formgrader_url(settings: Settings) -> str:
    return f"{settings.url}/user/{settings.instructor}/formgrader"


def greeting(settings: Settings) -> str:
    if not (folders(settings).course / "nbgrader_config.py").is_file() and (elsewhere := grading_elsewhere(settings)):
        return f"Assignments: off ({elsewhere}'s instructor is the same account: give this class another --instructor)."
    return (f"Assignments (course {course_id(settings.state_dir)}): `python3 tfbook.py assignments --state "
            f"{settings.state} release NAME`; grading in the Formgrader at {formgrader_url(settings)} (as "
            f"{settings.instructor}, in its own tab).")


def check_ready(settings: Settings) -> ClassFolders:
    f = folders(settings)
    if not (f.course / "nbgrader_config.py").is_file() and (elsewhere := grading_elsewhere(settings)):
        raise HubError(refusal(settings, elsewhere))
    if not (f.course / "nbgrader_config.py").is_file():
        raise HubError(f"the hub at {settings.state} has no class folder for assignments yet: start it once "
                       "with `python3 tfbook.py hub` (it sets nbgrader up)")
    return f


def solutions_served(settings: Settings) -> list[str]:
    """The assignments whose solutions are in the branch the students clone (the instructor's own branch,
    not the one ``tfbook.py assignments student-branch`` makes)."""
    if not settings.serve_repo:
        return []
    repo, found = settings.serve_repo, []
    for notebook in catalog.assignments():
        shown = subprocess.run(["git", "-C", repo, "-c", f"safe.directory={repo}", "show",
                                f"{settings.branch}:{notebook.relative_path}"], capture_output=True, text=True)
        if shown.returncode == 0 and "### BEGIN SOLUTION" in shown.stdout:
            found.append(notebook.assignment_name)
    return found
