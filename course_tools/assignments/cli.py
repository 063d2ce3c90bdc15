"""``python3 tfbook.py assignments COMMAND ...``: the course's exercises as nbgrader assignments."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import AssignmentError

DESCRIPTION = """\
The course's exercises as nbgrader assignments (the exercise notebooks in chapters/ are their sources).

Without a hub (laptops, Colab): `build` writes the student versions to hand out (build/assignments/release/),
`zip-collect NAME FOLDER` grades the notebooks downloaded from your LMS, `export` writes the grades as CSV.
With the class's hub (as root, --state as for `tfbook.py hub`): release, collect, autograde, feedback, export."""


def _grading(args: argparse.Namespace):
    from .course import Course
    from .grading import Grading

    if args.state is None:
        course = Course(root=args.course.resolve())
        course.write_config()
        return Grading(course)
    from ..hub import HubError
    from ..hub import nbgrader as hub_nbgrader
    from ..hub.config import Settings

    try:
        settings = Settings.load(args.state.resolve())
        f = hub_nbgrader.check_ready(settings)
    except HubError as error:
        raise AssignmentError(str(error)) from None
    return Grading(hub_nbgrader.course(settings), grader=f.grader, kernels=f.kernels)


def main(argv: list[str]) -> int:
    from .course import LOCAL_ROOT, ZONE

    parser = argparse.ArgumentParser(prog="tfbook.py assignments", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state", type=Path, default=None,
                        help="the class's hub (its state folder, e.g. build/hub): act on its course, as root")
    parser.add_argument("--course", type=Path, default=LOCAL_ROOT,
                        help=f"without a hub: the nbgrader course folder (default {LOCAL_ROOT})")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("list", help="the assignments and their sources")
    s = commands.add_parser("student-branch", help="commit the course with the student versions on a branch "
                                                   "for the students (the hub's --branch)")
    s.add_argument("--branch", default="students", help="the branch (default: students)")
    s.add_argument("--repo", type=Path, default=Path("."), help="the course's clone (default: here)")
    b = commands.add_parser("build", help="the student versions, sized for a class (files to hand out)")
    b.add_argument("names", nargs="*", metavar="NAME", help="e.g. mse-ex; default: all")
    r = commands.add_parser("release", help="(hub) release NAME to the students' Assignments list")
    r.add_argument("name", metavar="NAME")
    r.add_argument("--due", metavar="'YYYY-MM-DD HH:MM'", help="the due date, in --zone")
    r.add_argument("--zone", default=ZONE, help=f"the due date's time zone (default {ZONE})")
    for name, text in (("collect", "(hub) collect NAME's submissions (a resubmission replaces the earlier one)"),
                       ("autograde", "run NAME's tests on every collected submission"),
                       ("feedback", "feedback for NAME as HTML, without hidden tests (hub: returned to the students)")):
        commands.add_parser(name, help=text).add_argument("name", metavar="NAME")
    z = commands.add_parser("zip-collect", help="collect and autograde NAME from a folder of LMS downloads")
    z.add_argument("name", metavar="NAME")
    z.add_argument("folder", type=Path, metavar="FOLDER", help="<student>_<notebook>.ipynb files, or zips of them")
    e = commands.add_parser("export", help="the grades as CSV, a column per question")
    e.add_argument("--csv", type=Path, default=None, metavar="FILE", help="write it here (default: print it)")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except AssignmentError as error:
        print(f"assignments: {error}")
        return 1


def run(args: argparse.Namespace) -> int:
    from . import build, export

    if args.command == "list":
        for n in build.pick([]):
            print(f"{n.assignment_name:<8} {n.relative_path}  ({n.shows})")
        return 0
    if args.command == "student-branch":
        from .branch import student_branch

        student_branch(args.repo.resolve(), args.branch)
        return 0
    grading = _grading(args)
    if args.command == "build":
        build.build(grading.course, build.pick(args.names))
    elif args.command in ("release", "collect") and grading.course.exchange is None:
        raise AssignmentError(f"{args.command} needs the class's hub (--state); without one, hand out the "
                              "files of `build` and grade LMS downloads with `zip-collect`")
    elif args.command == "release":
        grading.release(args.name, args.due, args.zone)
    elif args.command == "collect":
        grading.collect(args.name)
    elif args.command == "autograde":
        grading.autograde(args.name)
    elif args.command == "feedback":
        grading.feedback(args.name)
    elif args.command == "zip-collect":
        from .zip_collect import zip_collect

        zip_collect(grading, args.name, args.folder.resolve())
    elif args.command == "export":
        text = export.write_csv(grading.course.root / "gradebook.db", grading.course.course_id, args.csv)
        print(f"wrote {args.csv}" if args.csv else text, end="" if not args.csv else "\n")
    return 0
