"""The settings of one hub, kept as JSON in its state folder, and the link students click.

``tfbook.py hub`` writes ``settings.json`` into the state folder
(``build/hub/`` by default, root's only); ``jupyterhub_config.py`` reads it,
and so do ``hub stop``, ``hub status`` and ``hub link``.  Ports the
instructor does not choose (the hub's own API, the proxy's API) are picked
free on 127.0.0.1 at each start.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import socket
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from urllib.parse import quote, urlencode

from . import HubError
from .environment import PREFIX, REPO_ROOT

STATE = REPO_ROOT / "build" / "hub"
SETTINGS_FILE = "settings.json"
COURSE_FOLDER = "tfbook"  # the folder of the course in each student's home
FIRST_PAGE = "chapters/Chapter01"  # where the link opens JupyterLab


@dataclass
class Settings:
    state: str  # the state folder: database, cookie secret, logs, pid files, passwords
    prefix: str = str(PREFIX)  # the hub's environment (environment.py)
    ip: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""  # what students type; default http://<ip>:<port>
    hub_port: int = 0  # the hub's API, 127.0.0.1 only
    proxy_api_port: int = 0  # the proxy's API, 127.0.0.1 only
    repo_url: str = ""  # what nbgitpuller clones: a git:// URL of the local git daemon, or the instructor's own
    serve_repo: str = ""  # the repository the local git daemon serves ("" when repo_url is the instructor's)
    git_port: int = 9418
    branch: str = "main"
    students: list[str] = field(default_factory=list)
    instructor: str = "teacher"
    idle_timeout_s: int = 3600  # the idle culler stops a server unused this long (0: no culler)
    mem_limit: str = "3G"  # shown in each student's status bar (not enforced by local processes); checks.memory
    ssl_cert: str = ""
    ssl_key: str = ""
    status_token: str = field(default_factory=lambda: secrets.token_hex(32))  # for `hub status`
    class_id: str = ""  # carried by every process of the class (classes.py)
    git_daemon: list[str] = field(default_factory=list)  # the course's git daemon (course_git.py), if any

    @property
    def state_dir(self) -> Path:
        return Path(self.state)

    @property
    def url(self) -> str:
        """The hub's address for students (``public_url``, or what it binds)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        scheme = "https" if self.ssl_cert else "http"
        host = socket.gethostname() if self.ip in ("", "0.0.0.0", "::") else self.ip
        return f"{scheme}://{host}:{self.port}"

    @property
    def local_url(self) -> str:
        """The hub's address from this machine (for health checks and ``hub status``)."""
        scheme = "https" if self.ssl_cert else "http"
        host = "127.0.0.1" if self.ip in ("", "0.0.0.0", "::") else self.ip
        return f"{scheme}://{host}:{self.port}"

    def student_link(self) -> str:
        """The nbgitpuller link: the first click clones the course into the
        student's home, later clicks merge the instructor's new commits
        (keeping the student's own changes), and JupyterLab opens Chapter01."""
        query = urlencode({"repo": self.repo_url, "branch": self.branch, "targetpath": COURSE_FOLDER,
                           "urlpath": f"lab/tree/{COURSE_FOLDER}/{FIRST_PAGE}"}, quote_via=quote)
        return f"{self.url}/hub/user-redirect/git-pull?{query}"

    def save(self) -> Path:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.chmod(0o700)  # the cookie secret, the database, the passwords
        path = self.state_dir / SETTINGS_FILE
        path.touch(mode=0o600)
        path.write_text(json.dumps(asdict(self), indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, state: Path) -> Settings:
        path = state / SETTINGS_FILE
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            known = {f.name for f in fields(cls)}  # a newer tfbook's extra settings are left to it
            return cls(**{key: value for key, value in saved.items() if key in known})
        except FileNotFoundError:
            raise HubError(f"no hub was ever started from {state} (start one with `python3 tfbook.py hub`)") from None
        except PermissionError:
            raise HubError(f"{path} is root's: run this as root (sudo)") from None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_port_free(ip: str, port: int, what: str, option: str) -> None:
    """One line when ``port`` cannot be had, before anything starts."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise HubError(f"port {port} on {ip} ({what}) is already in use: stop what uses it, "
                               f"or choose another port with {option}") from None
            raise HubError(f"cannot listen on {ip}:{port} ({what}): {error.strerror}") from None


def git_branch(repo: Path) -> str:
    """The branch checked out in ``repo`` (what the students get)."""
    import subprocess

    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "--abbrev-ref", "HEAD"],
                          capture_output=True, text=True, env={**os.environ, "GIT_CONFIG_COUNT": "1",
                                                               "GIT_CONFIG_KEY_0": "safe.directory",
                                                               "GIT_CONFIG_VALUE_0": str(repo)})
    branch = done.stdout.strip()
    if done.returncode != 0 or not branch or branch == "HEAD":
        raise HubError(f"{repo} is not a git repository on a branch: nbgitpuller gives students a branch's "
                       "commits (clone the course with git, or pass --repo URL --branch NAME)")
    return branch
