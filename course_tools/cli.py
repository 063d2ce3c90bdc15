"""The commands behind ``python3 tfbook.py COMMAND ...``.

Each command imports what it needs when it runs, so ``--help``, ``toc``
and starting ``lab`` never load TensorFlow.  Commands that hand their
arguments to another program (``test`` to pytest, ``lab`` to JupyterLab,
``bench`` and ``hub`` to their own options) take them as they are.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

from . import lifetime
from .catalog import CHAPTERS, REPO_ROOT, select
from .files import machine_trouble, replace_all, write_atomic


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
    with contextlib.suppress(OSError):  # the terminal may be gone (closed, SIGHUP): the results are published anyway
        if outcome.runs:
            print()
            print(runs.table([r.record() for r in outcome.runs], args.quick))
        print(f"\nAll results so far: {outcome.published.relative_to(REPO_ROOT)}/results.md, "
              f"executed copies in {outcome.published.relative_to(REPO_ROOT)}/executed/", flush=True)
    if outcome.interrupted:
        return 130
    return 0 if all(r.ok for r in outcome.runs) else 1


def refresh(argv: list[str]) -> int:
    import nbformat

    from . import checks, colab, runs

    args = _notebooks(argv, "refresh", quick_flag=False)

    def text(nb: object) -> bytes:  # as nbformat.write writes it
        written = nbformat.writes(nb)
        return (written if written.endswith("\n") else written + "\n").encode("utf-8")

    for notebook in args.notebooks:
        nb = nbformat.read(notebook.path, as_version=4)
        if colab.ensure_setup_cell(nb, notebook.chapter):
            write_atomic(notebook.path, text(nb))
            print(f"updated the Colab setup cell of {notebook.relative_path}")
    outcome = runs.run_course(args.notebooks, quick=False)
    fresh = {}
    for run, notebook in zip(outcome.runs, args.notebooks):
        if run.ok:
            fresh[notebook] = text(checks.strip_for_commit(run.executed))
        else:
            print(f"NOT refreshed (fix it first): {notebook.relative_path}: {run.status}")
    try:  # every refreshed notebook, or (a full disk, a read-only file) none
        replace_all({notebook.path: data for notebook, data in fresh.items()})
    except OSError as error:
        print(f"refresh: writing the refreshed notebooks failed ({machine_trouble(error)}); no notebook was changed.")
        return 1
    for notebook in fresh:
        print(f"refreshed {notebook.relative_path}")
    return 130 if outcome.interrupted else (0 if len(fresh) == len(outcome.runs) else 1)


def ship_checkpoints(argv: list[str]) -> int:
    from . import shipping

    parser = argparse.ArgumentParser(prog="tfbook.py ship-checkpoints")
    parser.add_argument("names", nargs="*", metavar="PREFIX", help="checkpoint prefixes; default: all shipped ones")
    args = parser.parse_args(argv)
    try:
        print(shipping.ship(args.names, say=print))
    except shipping.CannotShip as error:
        print(f"ship-checkpoints: {error}")
        return 1
    return 0


def export_web(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tfbook.py export-web", description=(
        "Write a web page (index.html, the network as model.js, TensorFlow.js) that reads digits drawn on it: "
        "it opens from the file system or any static host, offline."))
    parser.add_argument("folder", help="where to write the page (made if needed)")
    parser.add_argument("--checkpoint", default="cnn_session-20000",
                        help="a Saver checkpoint of Chapter05's CNN: a path to a student's, or a prefix in the "
                             "current folder or checkpoints/ (default: the shipped cnn_session-20000)")
    args = parser.parse_args(argv)
    from tfbook_utils.errors import TfbookError
    from tfbook_utils.web_export import export_web as write_page

    try:
        folder = write_page(args.checkpoint, args.folder)
    except (TfbookError, OSError) as error:
        print(f"export-web: {error}")
        return 1
    print(f"wrote {folder}/index.html (open it in a browser; copy the whole folder to share it)")
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
    "hub": Command("[start|install-service|stop|status|logs|...] ...", "a JupyterHub for a class (as root)", hub,
                   "instructors"),
    "assignments": Command("COMMAND ...", "the exercises as nbgrader assignments: build, release, collect, "
                           "autograde, feedback, export, zip-collect", assignments, "instructors"),
    "refresh": Command("[NAME ...]", "full run, then write the outputs back into the notebooks", refresh,
                       "maintainers"),
    "ship-checkpoints": Command("[PREFIX ...]", "copy the last full run's checkpoints into checkpoints/",
                                ship_checkpoints, "maintainers"),
    "export-web": Command("[--checkpoint NAME] FOLDER", "the lecture's CNN as a web page that reads drawn digits",
                          export_web, "instructors"),
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
    lifetime.bind_to(lifetime.WRAPPER)  # killed or not, `python3 tfbook.py` takes this command with it
    try:
        code = command.run(argv[1:])
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        print("\nInterrupted.")
        return 130
    except BrokenPipeError:  # `tfbook.py toc | head -1`: the reader has gone, so has the need to write
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as error:  # a full disk, a read-only checkout, a file where a folder should be ...
        with contextlib.suppress(OSError):
            print(f"tfbook.py {argv[0]}: {machine_trouble(error)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
