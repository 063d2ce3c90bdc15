"""The hub's environment: one virtual environment for the hub and every student's server.

It is built from Debian's own ``/usr/bin/python3``, not from the Python that
runs ``tfbook.py``: the students' servers run as their own system users, and
a virtual environment made from a Python under root's home (mode 700) fails
for them with "bad interpreter: Permission denied".  For the same reason it
lives under ``/opt/tfbook-hub`` (root's, readable and executable by every
user), not in the repository.

What goes in: the course's runtime pins from ``pyproject.toml`` (TensorFlow,
JupyterLab, ...) and the hub's pins from ``requirements.txt`` beside this
file; the proxy (configurable-http-proxy) comes from the npm registry with
``npm ci`` and the lock file in ``proxy/``.  A stamp file remembers what was
installed, so later starts reinstall only when a pin changed.

``python3 -m course_tools.hub.environment requirements`` prints the combined
list (the single-user image's Dockerfile installs it).  This module uses only the
standard library.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from . import HubError

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
HUB_REQUIREMENTS = HERE / "requirements.txt"
PROXY_FILES = HERE / "proxy"
PREFIX = Path(os.environ.get("TFBOOK_HUB_PREFIX", "/opt/tfbook-hub"))
SYSTEM_PYTHON = Path("/usr/bin/python3")


def course_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The course's runtime pins (TensorFlow, JupyterLab, ...), as pyproject.toml states them."""
    return list(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"])


def hub_requirements(path: Path = HUB_REQUIREMENTS) -> list[str]:
    """The hub's own pins (JupyterHub, nbgitpuller, the culler, resource usage)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def requirements() -> list[str]:
    """Everything the hub's environment holds, course first."""
    return course_requirements() + hub_requirements()


@dataclass(frozen=True)
class HubEnvironment:
    prefix: Path = PREFIX

    @property
    def venv(self) -> Path:
        return self.prefix / "venv"

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    @property
    def proxy(self) -> Path:
        return self.prefix / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"

    @property
    def stamp(self) -> Path:
        return self.prefix / ".tfbook-installed"

    def wanted(self) -> str:
        """What an up-to-date environment was installed from (pins, lock file, Python)."""
        digest = hashlib.sha256()
        for part in [*requirements(), (PROXY_FILES / "package-lock.json").read_text(encoding="utf-8"),
                     str(SYSTEM_PYTHON.resolve())]:
            digest.update(part.encode() + b"\0")
        return digest.hexdigest()

    def is_current(self) -> bool:
        return (self.stamp.is_file() and self.stamp.read_text().strip() == self.wanted()
                and self.python.is_file() and self.proxy.is_file())

    def ensure(self, echo=print) -> float:
        """Install or update the environment; returns the seconds it took (0 when current)."""
        if self.is_current():
            return 0.0
        check_tools()
        wanted, started = self.wanted(), time.monotonic()
        echo(f"Installing the hub's environment into {self.prefix} (the first time takes a few minutes) ...")
        self.prefix.mkdir(parents=True, exist_ok=True)
        self.prefix.chmod(0o755)
        if not self.python.is_file():
            _run([str(SYSTEM_PYTHON), "-m", "venv", str(self.venv)], "creating the virtual environment")
        pip = [str(self.python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        _run(pip + ["--upgrade", "pip"], "updating pip")
        _run(pip + requirements(), "installing the pinned packages")
        _write_lab_settings(self.venv)
        proxy_dir = self.prefix / "proxy"
        proxy_dir.mkdir(exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(PROXY_FILES / name, proxy_dir / name)
        _run(["npm", "ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"],
             "installing configurable-http-proxy from npm", cwd=proxy_dir)
        self.stamp.write_text(wanted + "\n")
        return time.monotonic() - started


# JupyterLab settings for every student (the environment's overrides.json):
# no news or update checks (they would go to the internet), and closing a
# notebook's tab shuts its kernel down, so kernels a student has left do not
# keep their memory (TensorFlow and MNIST: about 0.6-1.9 GB each).
LAB_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension:tracker": {"kernelShutdown": True},
}


def _write_lab_settings(venv: Path) -> None:
    import json

    settings = venv / "share" / "jupyter" / "lab" / "settings"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "overrides.json").write_text(json.dumps(LAB_OVERRIDES, indent=1) + "\n", encoding="utf-8")


def check_tools() -> None:
    """Node and npm (for the proxy) and a Python every user can run."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise HubError("node and npm are missing (the hub's proxy is an npm package): "
                                "install them (Debian: apt-get install nodejs npm) and run the command again.")
    if not SYSTEM_PYTHON.is_file():
        raise HubError(f"{SYSTEM_PYTHON} is missing: the students' servers need the system's Python "
                                "(Debian: apt-get install python3 python3-venv).")
    probe = subprocess.run([str(SYSTEM_PYTHON), "-c", "import ensurepip, venv"], capture_output=True)
    if probe.returncode != 0:
        raise HubError(f"{SYSTEM_PYTHON} cannot make virtual environments: "
                                "install them (Debian: apt-get install python3-venv) and run the command again.")


def _run(command: list[str], what: str, cwd: Path | None = None) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()
        raise HubError(f"{what} failed: {last[-1] if last else f'exit code {done.returncode}'}")


def main(argv: list[str]) -> int:
    """For the single-user image's Dockerfile (deploy/singleuser/Dockerfile)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python3 -m course_tools.hub.environment")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("requirements", help="print every pin of the hub's environment")
    listing.add_argument("--jupyterhub", metavar="VERSION", help="JupyterHub's version instead of the pinned one "
                                                                 "(the single-user servers match the hub's)")
    settings = commands.add_parser("lab-settings", help="write JupyterLab's settings for the students")
    settings.add_argument("prefix", type=Path, help="the environment's prefix (/usr/local in the image)")
    args = parser.parse_args(argv)
    if args.command == "lab-settings":
        _write_lab_settings(args.prefix)
        return 0
    pins = requirements()
    if args.jupyterhub:
        pins = [f"jupyterhub=={args.jupyterhub}" if pin.startswith("jupyterhub==") else pin for pin in pins]
    print("\n".join(pins))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
