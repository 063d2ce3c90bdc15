"""``python3 tfbook.py hub [start|install-service|stop|status|logs|link|...] ...``"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from . import HubError
from .config import STATE, Settings, git_branch
from .environment import PREFIX, REPO_ROOT

DESCRIPTION = """\
A JupyterHub for a class on this machine (run as root): one system account and one
JupyterLab server per student, the course copied into each student's home by a link
(nbgitpuller), idle servers stopped, memory and CPU shown to each student.
The first start installs JupyterHub and the course's packages into /opt/tfbook-hub
(a few minutes) and configurable-http-proxy from npm (needs node and npm).
`hub start` runs it in this terminal (a quick try); `hub install-service` runs it for
a term as a systemd service (it starts at boot and outlives this terminal)."""


class _Parser(argparse.ArgumentParser):
    """Mistyped options in one line, as every other refusal of the command."""

    def error(self, message: str) -> None:
        self.exit(2, f"hub: {message} (see `python3 {self.prog} --help`)\n")


def _start_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--students", metavar="N|FILE",
                        help="30 makes student01 ... student30; or a file with one user name per line "
                             "(default: the class of the last start from --state)")
    parser.add_argument("--instructor", default=None, metavar="NAME",
                        help="the admin account (default: teacher)")
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine "
                                                          "only; 0.0.0.0 for the class's network)")
    parser.add_argument("--port", type=int, default=8000, help="the hub's port (default 8000)")
    parser.add_argument("--public-url", default="", metavar="URL",
                        help="the address students use, if not http://IP:PORT (e.g. behind an HTTPS proxy)")
    parser.add_argument("--repo", default="", metavar="URL|DIR",
                        help="the course students get: a git URL their servers can reach, or a local clone "
                             "whose branch is served on 127.0.0.1 by git daemon (default: this repository); "
                             "they get the branch's last commit")
    parser.add_argument("--branch", default="", help="the branch students get (default: the one checked out); "
                                                     "the only one the git daemon serves")
    parser.add_argument("--git-port", type=int, default=9418, help="git daemon's port on 127.0.0.1 (default 9418)")
    parser.add_argument("--idle-minutes", default="60", metavar="MINUTES|off",
                        help="stop servers unused this long, at least 10 (default 60; off: never)")
    parser.add_argument("--mem-limit", default="3G",
                        help="memory shown as each student's limit, e.g. 3G or 512M (default 3G, as on "
                             "Kubernetes; see the README's capacity table)")
    parser.add_argument("--ssl-cert", default="", metavar="FILE", help="serve HTTPS with this certificate ...")
    parser.add_argument("--ssl-key", default="", metavar="FILE", help="... and this key")
    _state(parser)
    parser.add_argument("--prefix", type=Path, default=PREFIX,
                        help=f"where the hub's environment is installed (default {PREFIX})")


def _state(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", type=Path, default=STATE, help=f"the hub's own files (default {STATE})")


def _previous(state: Path) -> Settings | None:
    try:
        return Settings.load(state) if (state / "settings.json").is_file() else None
    except PermissionError:
        raise HubError(f"{state} is root's: run this as root (sudo python3 tfbook.py hub ...)") from None


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings of a start, every one checked (``checks``) before anything starts."""
    from . import accounts, checks

    state = args.state.resolve()
    previous = _previous(state)
    if args.students is not None:
        students = accounts.roster(args.students)
    elif previous is not None:
        students = previous.students  # the class of the last start
    else:
        raise HubError("say who the students are: --students 30 (student01 ... student30) or --students FILE "
                       "(one user name per line)")
    instructor = (args.instructor or (previous.instructor if previous else "teacher")).strip().lower()
    if instructor in students:
        raise HubError(f"the instructor {instructor!r} is also on the students' list: choose another --instructor")
    port, git_port = checks.port(args.port, "--port"), checks.port(args.git_port, "--git-port")
    if port == git_port:
        raise HubError(f"--port and --git-port are both {port}: give them different ports")
    mem_limit, idle_timeout_s = checks.memory(args.mem_limit), checks.idle_seconds(args.idle_minutes)
    if bool(args.ssl_cert) != bool(args.ssl_key):
        raise HubError("HTTPS needs both --ssl-cert and --ssl-key")
    for option, path in (("--ssl-cert", args.ssl_cert), ("--ssl-key", args.ssl_key)):
        if path and not Path(path).is_file():
            raise HubError(f"{option} {path}: no such file")
    if args.public_url and not args.public_url.startswith(("http://", "https://")):
        raise HubError(f"--public-url {args.public_url}: give the whole address, https://NAME[:PORT]")
    if "://" in args.repo or args.repo.startswith("git@"):
        repo_url, serve_repo = args.repo, ""
        branch = args.branch or "main"
    else:
        local = Path(args.repo or REPO_ROOT).resolve()
        if not local.is_dir():
            raise HubError(f"--repo {args.repo}: neither a git URL nor a folder")
        serve_repo = str(local)
        branch = args.branch or git_branch(local)
        repo_url = f"git://127.0.0.1:{git_port}/{local.name}"
    settings = Settings(
        state=str(state), prefix=str(args.prefix.resolve()), ip=args.ip, port=port, public_url=args.public_url,
        repo_url=repo_url, serve_repo=serve_repo, git_port=git_port, branch=branch, students=students,
        instructor=instructor, idle_timeout_s=idle_timeout_s, mem_limit=mem_limit,
        ssl_cert=str(Path(args.ssl_cert).resolve()) if args.ssl_cert else "",
        ssl_key=str(Path(args.ssl_key).resolve()) if args.ssl_key else "",
    )
    if previous is not None:
        settings.status_token = previous.status_token
    return settings


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tfbook.py hub", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _start_parser(commands.add_parser("start", help="start the hub in this terminal and print the students' link "
                                                    "(the default)"))
    _start_parser(commands.add_parser("install-service", help="run the hub as a systemd service for the term: it "
                                                              "starts at boot, and again if it fails"))
    for name, text in (("run", "run the hub of --state with its saved settings (what the service runs)"),
                       ("stop", "stop the hub of --state (service or not), its servers and kernels"),
                       ("status", "who is running, and each server's memory and CPU"),
                       ("link", "print the students' link again"),
                       ("remove-service", "stop and remove the service of --state"),
                       ("end-of-term", "archive every student's home, check the archives, then remove the "
                                       "class's accounts and homes")):
        sub = commands.add_parser(name, help=text)
        _state(sub)
        if name == "end-of-term":
            sub.add_argument("--archive", type=Path, default=None, metavar="DIR",
                             help="where the archives go (default /var/lib/tfbook-hub/archive/CLASS-DATE)")
    logs = commands.add_parser("logs", help="the hub's log (JupyterHub's and this command's lines)")
    _state(logs)
    logs.add_argument("-n", "--lines", type=int, default=50, help="how many of the last lines (default 50)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines (Ctrl-C ends)")
    reset = commands.add_parser("reset-password", help="give one account of the class a new password and print it")
    reset.add_argument("name", help="the student's (or instructor's) user name")
    _state(reset)
    capacity = commands.add_parser("capacity", help="(maintainers) rewrite the README's capacity table from the "
                                                    "last full and quick runs")
    capacity.add_argument("--check", action="store_true", help="only say whether README.md is up to date")
    return parser


def _link(state: Path) -> str:
    from .classes import running_pid

    link = Settings.load(state).student_link()
    if running_pid(state) is None:
        link += (f"\n(the hub of {state} is not running now: the link works once it runs -- "
                 "`sudo python3 tfbook.py hub start` or `hub install-service`)")
    return link


def _logs(state: Path, lines: int, follow: bool) -> str:
    from .server import LOG_FILE

    log = state / LOG_FILE
    try:
        text = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except PermissionError:
        raise HubError(f"{log} is root's: run this as root (sudo)") from None
    except FileNotFoundError:
        raise HubError(f"no hub has logged anything in {state} yet") from None
    if follow:
        os.execvp("tail", ["tail", "-n", str(lines), "-F", str(log)])
    return "\n".join(text[-lines:])


def main(argv: list[str]) -> int:
    from . import server, service, term

    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["start", *argv]
    args = _parser().parse_args(argv)
    try:
        if args.command == "start":
            return server.serve(settings_from(args))
        if args.command == "install-service":
            return service.install(settings_from(args))
        if args.command == "run":
            return server.serve(Settings.load(args.state.resolve()))
        if args.command == "end-of-term":
            return term.end_of_term(args.state.resolve(), args.archive)
        print({"stop": lambda: server.stop(args.state.resolve()),
               "status": lambda: server.status(args.state.resolve()),
               "link": lambda: _link(args.state.resolve()),
               "logs": lambda: _logs(args.state.resolve(), args.lines, args.follow),
               "remove-service": lambda: service.remove(args.state.resolve()),
               "reset-password": lambda: term.reset_password(args.state.resolve(), args.name),
               "capacity": lambda: _capacity(args.check)}[args.command]())
        return 0
    except HubError as error:
        print(f"hub: {error}")
        return 1


def _capacity(check: bool) -> str:
    from . import capacity as capacity_table

    return capacity_table.write_readme(check_only=check)
