"""``python3 tfbook.py hub [start|stop|status|link|capacity] ...``"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import HubError
from .config import STATE, Settings, git_branch
from .environment import PREFIX, REPO_ROOT

DESCRIPTION = """\
A JupyterHub for a class on this machine (run as root): one system account and one
JupyterLab server per student, the course copied into each student's home by a link
(nbgitpuller), idle servers stopped, memory and CPU shown to each student.
The first start installs JupyterHub and the course's packages into /opt/tfbook-hub
(a few minutes) and configurable-http-proxy from npm (needs node and npm)."""


def _start_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--students", metavar="N|FILE",
                        help="30 makes student01 ... student30; or a file with one user name per line")
    parser.add_argument("--instructor", default=None, metavar="NAME",
                        help="the admin account (default: teacher)")
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine "
                                                          "only; 0.0.0.0 for the class's network)")
    parser.add_argument("--port", type=int, default=8000, help="the hub's port (default 8000)")
    parser.add_argument("--public-url", default="", metavar="URL",
                        help="the address students use, if not http://IP:PORT (e.g. behind an HTTPS proxy)")
    parser.add_argument("--repo", default="", metavar="URL|DIR",
                        help="the course students get: a git URL their servers can reach, or a local clone "
                             "served on 127.0.0.1 by git daemon (default: this repository); they get the "
                             "branch's last commit")
    parser.add_argument("--branch", default="", help="the branch students get (default: the one checked out)")
    parser.add_argument("--git-port", type=int, default=9418, help="git daemon's port on 127.0.0.1 (default 9418)")
    parser.add_argument("--idle-minutes", type=int, default=60, help="stop servers unused this long (default 60)")
    parser.add_argument("--mem-limit", default="3G",
                        help="memory shown as each student's limit (default 3G, as on Kubernetes; see the "
                             "README's capacity table)")
    parser.add_argument("--ssl-cert", default="", metavar="FILE", help="serve HTTPS with this certificate ...")
    parser.add_argument("--ssl-key", default="", metavar="FILE", help="... and this key")
    parser.add_argument("--state", type=Path, default=STATE, help=f"the hub's own files (default {STATE})")
    parser.add_argument("--prefix", type=Path, default=PREFIX,
                        help=f"where the hub's environment is installed (default {PREFIX})")


def settings_from(args: argparse.Namespace) -> Settings:
    from . import accounts

    state = args.state.resolve()
    previous = None
    if (state / "settings.json").is_file():
        previous = Settings.load(state)
    if args.students:
        students = accounts.roster(args.students)
    elif previous is not None:
        students = previous.students  # the class of the last start
    else:
        raise HubError("say who the students are: --students 30 (student01 ... student30) or --students FILE "
                       "(one user name per line)")
    instructor = args.instructor or (previous.instructor if previous else "teacher")
    if instructor in students:
        raise HubError(f"the instructor {instructor!r} is also on the students' list: choose another --instructor")
    if bool(args.ssl_cert) != bool(args.ssl_key):
        raise HubError("HTTPS needs both --ssl-cert and --ssl-key")
    if "://" in args.repo or args.repo.startswith("git@"):
        repo_url, serve_repo = args.repo, ""
        branch = args.branch or "main"
    else:
        local = Path(args.repo or REPO_ROOT).resolve()
        if not local.is_dir():
            raise HubError(f"--repo {args.repo}: neither a git URL nor a folder")
        serve_repo = str(local)
        branch = args.branch or git_branch(local)
        repo_url = f"git://127.0.0.1:{args.git_port}/{local.name}"
    settings = Settings(
        state=str(state), prefix=str(args.prefix.resolve()), ip=args.ip, port=args.port, public_url=args.public_url,
        repo_url=repo_url, serve_repo=serve_repo, git_port=args.git_port, branch=branch, students=students,
        instructor=instructor, idle_timeout_s=args.idle_minutes * 60, mem_limit=args.mem_limit,
        ssl_cert=str(Path(args.ssl_cert).resolve()) if args.ssl_cert else "",
        ssl_key=str(Path(args.ssl_key).resolve()) if args.ssl_key else "",
    )
    if previous is not None:
        settings.status_token = previous.status_token
    return settings


def main(argv: list[str]) -> int:
    from . import server

    parser = argparse.ArgumentParser(prog="tfbook.py hub", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _start_parser(commands.add_parser("start", help="start the hub and print the students' link (the default)"))
    for name, text in (("stop", "stop the hub started from --state, its servers and kernels"),
                       ("status", "who is running, and each server's memory and CPU"),
                       ("link", "print the students' link again")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--state", type=Path, default=STATE, help=f"the hub's own files (default {STATE})")
    capacity = commands.add_parser("capacity", help="(maintainers) rewrite the README's capacity table from the "
                                                    "last full and quick runs")
    capacity.add_argument("--check", action="store_true", help="only say whether README.md is up to date")
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["start", *argv]
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            return server.serve(settings_from(args))
        if args.command == "stop":
            print(server.stop(args.state.resolve()))
        elif args.command == "status":
            print(server.status(args.state.resolve()))
        elif args.command == "link":
            print(Settings.load(args.state.resolve()).student_link())
        elif args.command == "capacity":
            from . import capacity as capacity_table

            print(capacity_table.write_readme(check_only=args.check))
        return 0
    except HubError as error:
        print(f"hub: {error}")
        return 1
