"""A branch for the students: the course with each assignment's notebook in its student version.

The chapters' exercise notebooks hold the solutions and the hidden tests, so
the branch that students clone (the hub's link, nbgitpuller, Colab) must not
be the instructor's.  ``tfbook.py assignments student-branch`` commits, on
the branch ``students``, the tree of the current commit with every
assignment notebook replaced by the version nbgrader generates (solutions
and hidden tests out, outputs cleared, the class's loop sizes).  Each run
adds one commit on top of the previous ``students`` commit (never the
instructor's commits, whose history holds the solutions), so nbgitpuller
brings the students the instructor's later changes and keeps their own edits.  Start the hub with ``--branch students``.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from .. import catalog
from . import AssignmentError, build
from .course import Course

BRANCH = "students"


def _git(repo: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    done = subprocess.run(["git", "-C", str(repo), "-c", f"safe.directory={repo}", *args], capture_output=True,
                          text=True, input=stdin, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise AssignmentError(f"git {args[0]} failed in {repo}: {(done.stderr or done.stdout).strip()[-300:]}")
    return done.stdout.strip()


def student_branch(repo: Path, branch: str = BRANCH, echo=print) -> str:
    """Commit the students' tree of ``repo``'s HEAD on ``branch``; returns the new commit."""
    head = _git(repo, "rev-parse", "HEAD")
    with tempfile.TemporaryDirectory(prefix="tfbook-students-") as work:
        course = Course(root=Path(work) / "course")
        made = build.build(course, catalog.assignments(), echo=lambda line: None)
        index = {"GIT_INDEX_FILE": str(Path(work) / "index")}
        _git(repo, "read-tree", head, env=index)
        for notebook, student in zip(catalog.assignments(), made):
            blob = _git(repo, "hash-object", "-w", str(student))
            _git(repo, "update-index", "--cacheinfo", f"100644,{blob},{notebook.relative_path}", env=index)
        tree = _git(repo, "write-tree", env=index)
    # the previous students' commit is the only parent: the branch's history holds no solution
    previous = subprocess.run(["git", "-C", str(repo), "-c", f"safe.directory={repo}", "rev-parse", "--verify", "-q",
                               f"refs/heads/{branch}"], capture_output=True, text=True).stdout.strip()
    parents = ["-p", previous] if previous else []
    identity = {"GIT_AUTHOR_NAME": "tfbook", "GIT_AUTHOR_EMAIL": "tfbook@localhost",
                "GIT_COMMITTER_NAME": "tfbook", "GIT_COMMITTER_EMAIL": "tfbook@localhost"}
    commit = _git(repo, "commit-tree", tree, *parents, env=identity,
                  stdin=f"The course of {head[:8]} for the students: the assignments in their student versions\n")
    _git(repo, "update-ref", f"refs/heads/{branch}", commit)
    echo(f"branch {branch} ({commit[:8]}): the course of {head[:8]} with the student versions of "
         f"{', '.join(n.assignment_name for n in catalog.assignments())}; start the hub with --branch {branch}")
    return commit
