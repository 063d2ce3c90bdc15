"""One nbgrader course folder, and nbgrader run in it.

Without a hub the folder is ``build/assignments/`` of this repository and
nbgrader runs as the user who runs ``tfbook.py``.  With a hub
(``--state``: the hub's state folder) it is the class's folder that
``tfbook.py hub`` prepared (``course_tools/hub/nbgrader.py``), and nbgrader
runs from the hub's environment as the instructor.

The config every run reads (``nbgrader_config.py`` in the folder) holds what
the traps in nbgrader 0.9 need (see the README's assignments section):

* the exchange's time zone stays UTC: a zone name such as "Asia/Tokyo" there is
  written as "JST", which nbgrader reads back as UTC (jupyter/nbgrader#1932);
  due dates carry their zone instead ("2026-12-08 17:00:00 Asia/Tokyo");
* a cell may run ``TIMEOUT_S`` seconds (nbgrader's default 30 s interrupts
  the training cells), for autograde and for the students' Validate;
* feedback shows no hidden tests and only the last line of a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..catalog import REPO_ROOT
from . import AssignmentError

COURSE_ID = "tfbook"
LOCAL_ROOT = REPO_ROOT / "build" / "assignments"
TIMEOUT_S = 300  # one cell, in Validate and autograde: the longest class-sized training cell takes about 90 s
ZONE = "Asia/Tokyo"  # due dates given without a zone are in this one

CONFIG = '''\
# Written by `tfbook.py assignments` / `tfbook.py hub`; changes are overwritten.
from nbconvert.preprocessors import Preprocessor

c = get_config()  # noqa: F821
{course}{exchange}\
c.Exchange.timezone = "UTC"  # a zone name here is written as "JST" and read back as UTC (nbgrader#1932)
c.Execute.timeout = {timeout}  # seconds per cell (nbgrader's default 30 s interrupts the training cells)
c.Validator.width = 200  # Validate shows the Japanese messages whole (nbgrader cuts lines at 90 characters)
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE(ここに答えを書いてください)"
c.ZipCollectApp.collector_plugin = "nbgrader.plugins.FileNameCollectorPlugin"
c.FileNameCollectorPlugin.named_regexp = r".*/(?P<student_id>[^/_]+)_(?P<file_id>[^/]+[.]ipynb)$"


class ShortTracebacks(Preprocessor):
    """Feedback shows an error's last line (the message), not the test code that raised it."""

    def __call__(self, nb, resources):  # always on (nbconvert's preprocessors are off unless enabled)
        return self.preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = ["%s: %s" % (output.get("ename"), output.get("evalue"))]
        return cell, resources


c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",  # hidden tests stay hidden in the feedback
    ShortTracebacks,
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
'''


def config_text(root: Path | None, course_id: str | None = COURSE_ID, exchange: Path | None = None,
                timeout: int = TIMEOUT_S) -> str:
    """nbgrader's config; without ``root`` and ``course_id`` only what every class shares (the hub's
    environment-wide config: each class's course id is in its users' own ``~/.jupyter``)."""
    course = (f"c.CourseDirectory.course_id = {course_id!r}\n" if course_id else "") + (
        f"c.CourseDirectory.root = {str(root)!r}\n" if root else "")
    line = f"c.Exchange.root = {str(exchange)!r}\n" if exchange else ""
    return CONFIG.format(course=course, exchange=line, timeout=timeout)


@dataclass
class Course:
    """An nbgrader course folder and how nbgrader is run in it."""

    root: Path = LOCAL_ROOT
    course_id: str = COURSE_ID
    python: str = sys.executable  # a Python with nbgrader
    user: str | None = None  # run nbgrader as this user (the hub's instructor), from root
    exchange: Path | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def config_file(self) -> Path:
        return self.root / "nbgrader_config.py"

    def write_config(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(config_text(self.root, self.course_id, self.exchange), encoding="utf-8")

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "PYTHONPATH"))}
        env.update(self.env)
        env["PATH"] = os.pathsep.join([str(Path(self.python).parent), env.get("PATH", "/usr/bin:/bin")])
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        if self.user:
            from ..hub import accounts

            env.update(HOME=str(accounts.home(self.user)), USER=self.user, LOGNAME=self.user)
        return env

    def command(self, *args: str) -> list[str]:
        command = [self.python, "-m", "nbgrader", *args]
        if self.user and os.geteuid() == 0:
            command = ["runuser", "-u", self.user, "--", *command]
        return command

    def nbgrader(self, *args: str, timeout: float = 3600, check: bool = True) -> subprocess.CompletedProcess:
        """``nbgrader ARGS`` in the course folder; with ``check``, a failure raises ``AssignmentError``
        with nbgrader's own last error line."""
        try:
            done = subprocess.run(self.command(*args), cwd=self.root, env=self.environment(), capture_output=True,
                                  text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise AssignmentError(f"nbgrader {args[0]} did not finish within {timeout:.0f} s") from None
        if check and done.returncode != 0:
            raise AssignmentError(f"nbgrader {' '.join(args[:2])} failed: {last_error(done.stdout + done.stderr)}")
        return done


def last_error(log: str) -> str:
    """The line of nbgrader's log that best says what went wrong."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for marker in ("[ERROR]", "[CRITICAL]", "Error", "error"):
        found = [line for line in lines if marker in line and "Traceback" not in line]
        if found:
            return found[-1][:300]
    return lines[-1][:300] if lines else "no output"
