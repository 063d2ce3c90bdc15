"""The commands behind ``python3 tfbook.py COMMAND ...``.

Each command imports what it needs when it runs, so ``--help``, ``toc``
and starting ``lab`` never load TensorFlow.  Commands that hand their
arguments to another program (``test`` to pytest, ``lab`` to JupyterLab,
``bench`` and ``hub`` to their own options) take them as they are.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

from .catalog import CHAPTERS, REPO_ROOT, select


@dataclass(frozen=True)
class Command:
    usage: str
    help: str
    run: Callable[[list[str]], int]
    audience: str = "everyone"


def _notebooks(argv: list[str], prog: str, quick_flag: bool) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"tfbook.py {prog}")
    if quick_flag:
        parser.add_argument("--quick", action="store_true", help="loops cut short: a few minutes in all")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="a tag (MSE), a file name or a chapter (Chapter05); default: every notebook")
    args = parser.parse_args(argv)
    try:
        args.notebooks = select(args.names)
    except ValueError as error:
        parser.error(str(error))
    return args


def lecture(argv: list[str]) -> int:
    from . import runs

    args = _notebooks(argv, "lecture", quick_flag=True)
    outcome = runs.run_course(args.notebooks, args.quick)
    if outcome.runs:
        print()
        print(runs.table([r.record() for r in outcome.runs], args.quick))
    print(f"\nAll results so far: {outcome.published.relative_to(REPO_ROOT)}/results.md, "
          f"executed copies in {outcome.published.relative_to(REPO_ROOT)}/executed/")
    if outcome.interrupted:
        return 130
    return 0 if all(r.ok for r in outcome.runs) else 1


def refresh(argv: list[str]) -> int:
    import nbformat

    from . import checks, colab, runs

    args = _notebooks(argv, "refresh", quick_flag=False)
    for notebook in args.notebooks:
        nb = nbformat.read(notebook.path, as_version=4)
        if colab.ensure_setup_cell(nb, notebook.chapter):
            nbformat.write(nb, notebook.path)
            print(f"updated the Colab setup cell of {notebook.relative_path}")
    outcome = runs.run_course(args.notebooks, quick=False)
    failed = 0
    for run, notebook in zip(outcome.runs, args.notebooks):
        if not run.ok:
            print(f"NOT refreshed (fix it first): {notebook.relative_path}: {run.status}")
            failed += 1
            continue
        nbformat.write(checks.strip_for_commit(run.executed), notebook.path)
        print(f"refreshed {notebook.relative_path}")
    return 130 if outcome.interrupted else (1 if failed else 0)


def ship_checkpoints(argv: list[str]) -> int:
    from . import shipping

    parser = argparse.ArgumentParser(prog="tfbook.py ship-checkpoints")
    parser.add_argument("names", nargs="*", metavar="PREFIX", help="checkpoint prefixes; default: all shipped ones")
    args = parser.parse_args(argv)
    try:
        print(shipping.ship(args.names))
    except shipping.CannotShip as error:
        print(f"ship-checkpoints: {error}")
        return 1
    return 0


def toc(argv: list[str]) -> int:
    from . import contents

    parser = argparse.ArgumentParser(prog="tfbook.py toc")
    parser.add_argument("--check", action="store_true", help="only say whether README.md is up to date")
    args = parser.parse_args(argv)
    try:
        print(contents.write_readme(check_only=args.check))
    except contents.NotReady as error:
        print(f"toc: {error}")
        return 1
    return 0


def test(argv: list[str]) -> int:
    return subprocess.run([sys.executable, "-m", "pytest", *argv], cwd=REPO_ROOT).returncode


def lab(argv: list[str]) -> int:
    return subprocess.run([sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={CHAPTERS}", *argv],
                          cwd=REPO_ROOT).returncode


def bench(argv: list[str]) -> int:
    from .bench import main as bench_main

    return bench_main(argv)


def hub(argv: list[str]) -> int:
    from .hub.cli import main as hub_main

    return hub_main(argv)


def assignments(argv: list[str]) -> int:
    from .assignments.cli import main as assignments_main

    return assignments_main(argv)


COMMANDS: dict[str, Command] = {
    "lecture": Command("[--quick] [NAME ...]", "run the course headless, print the results table", lecture),
    "test": Command("[PYTEST ARGS ...]", "run the test suite", test),
    "lab": Command("[JUPYTERLAB ARGS ...]", "open JupyterLab on chapters/ (e.g. --port 8890 --no-browser)", lab),
    "bench": Command("[--quick] [NAME ...]", "measure how fast this machine runs the lecture's models", bench,
                     "instructors"),
    "hub": Command("[start|stop|status|link] ...", "a JupyterHub for a class on this machine (as root)", hub,
                   "instructors"),
    "assignments": Command("COMMAND ...", "the exercises as nbgrader assignments: build, release, collect, "
                           "autograde, feedback, export, zip-collect", assignments, "instructors"),
    "refresh": Command("[NAME ...]", "full run, then write the outputs back into the notebooks", refresh,
                       "maintainers"),
    "ship-checkpoints": Command("[PREFIX ...]", "copy the last full run's checkpoints into checkpoints/",
                                ship_checkpoints, "maintainers"),
    "toc": Command("[--check]", "rewrite README.md's contents table from the last full run", toc, "maintainers"),
}


def usage() -> str:
    width = max(len(f"{name} {c.usage}") for name, c in COMMANDS.items())
    lines = ["usage: python3 tfbook.py COMMAND [ARGS ...]", ""]
    for name, c in COMMANDS.items():
        who = "" if c.audience == "everyone" else f"({c.audience}) "
        lines.append(f"  {f'{name} {c.usage}':<{width}}  {who}{c.help}")
    lines += ["", "NAME picks notebooks by tag (MSE), file name or chapter (Chapter05), exactly.",
              "`python3 tfbook.py COMMAND --help` says more about one command."]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    command = COMMANDS.get(argv[0])
    if command is None:
        print(f"tfbook.py: no command {argv[0]!r}\n\n{usage()}")
        return 2
    try:
        return command.run(argv[1:])
    except KeyboardInterrupt:
        print("\nInterrupted.")
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
