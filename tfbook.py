#!/usr/bin/env python3
"""tfbook's commands: ``python3 tfbook.py --help`` lists them.

Every command but ``hub`` first makes sure ``.venv`` is set up (the class hub
uses the standard library only and installs its own environment under
/opt/tfbook-hub, so an instructor's server gets no .venv with test tools): the first run creates it
and installs the pinned packages from pyproject.toml (a few minutes); later
runs reuse it and reinstall only when pyproject.toml changed.  Only the
Python standard library is used until ``.venv`` exists; the commands
themselves live in ``course_tools/cli.py``.

TensorFlow publishes packages for a few Python versions only (the range is
``requires-python`` in pyproject.toml).  Run by another Python, this file
looks for one in that range -- ``python3.13`` and the like on PATH, the
``py`` launcher on Windows, ``uv`` where it is installed -- and runs itself
with it; when there is none it stops before creating anything, saying what
to install.  It is written for old Pythons too, so that they can say so.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".tfbook-installed"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv() -> None:
    """Create .venv and install tfbook (editable) with its test extras, once
    per version of pyproject.toml."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.is_file() and STAMP.read_text().strip() == wanted and venv_python().is_file():
        return
    made_by = venv_version()
    if made_by is not None and made_by not in supported_versions():
        print(f"Recreating .venv: it was made by Python {made_by[0]}.{made_by[1]}, which TensorFlow does not support.")
        shutil.rmtree(VENV)
    elif VENV.exists() and not venv_python().is_file():  # e.g. the pyenv version that made it was removed
        gone = os.path.realpath(venv_python()) if os.path.islink(venv_python()) else venv_python()
        print(f"Rebuilding .venv: its Python {gone} is gone (removed or moved).", flush=True)
        shutil.rmtree(VENV)
    if not venv_python().is_file():
        print("Creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("Installing the pinned packages into .venv (first time: a few minutes) ...", flush=True)
    pip = [str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    for step in (["--upgrade", "pip"], ["-e", f"{ROOT}[test]"]):
        code = subprocess.run(pip + step).returncode
        if code != 0:
            sys.exit(f"Installing the pinned packages into .venv failed (pip's exit code {code}; its message is "
                     "above): check the connection to PyPI, then run the same command again.")
    STAMP.write_text(wanted + "\n")


def supported_versions() -> list:
    """The (major, minor) versions TensorFlow has packages for, from
    pyproject.toml's ``requires-python = ">=3.11,<3.14"`` (written only there)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'^requires-python\s*=\s*">=\s*(\d+)\.(\d+)\s*,\s*<\s*(\d+)\.(\d+)\s*"', text, re.M)
    if found is None:
        sys.exit('pyproject.toml lacks its line requires-python = ">=3.X,<3.Y": `git checkout pyproject.toml`.')
    major, low, upper_major, high = (int(n) for n in found.groups())
    return [(major, minor) for minor in range(low, high if upper_major == major else low + 1)]


def _tensorflow() -> str:
    """'TensorFlow 2.21', as pinned in pyproject.toml (for messages)."""
    found = re.search(r'"tensorflow(?:-cpu)?==(\d+\.\d+)', (ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return "TensorFlow " + found.group(1) if found else "TensorFlow"


# Prints the version of the Python it runs in, if that Python can make a .venv with pip in it
# (Debian and Ubuntu ship venv's ensurepip in a package of its own, python3.X-venv).
PROBE = "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])"


def _probe(command: list) -> tuple:
    """The (major, minor) version ``command`` runs, or () if it does not run a usable Python."""
    try:
        done = subprocess.run(command + ["-c", PROBE], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return ()
    found = re.fullmatch(r"(\d+)\.(\d+)", done.stdout.strip()) if done.returncode == 0 else None
    return (int(found.group(1)), int(found.group(2))) if found else ()


def _usable_here() -> bool:
    """Whether this Python is supported and can make a .venv with pip in it."""
    try:
        import ensurepip  # noqa: F401
    except ImportError:
        return False
    return tuple(sys.version_info[:2]) in supported_versions()


def _uv_find(uv: str, wanted: list) -> list:
    """A supported Python that uv knows of (it searches, it does not download)."""
    spec = f">={wanted[0][0]}.{wanted[0][1]},<{wanted[-1][0]}.{wanted[-1][1] + 1}"
    found = subprocess.run([uv, "python", "find", spec], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    command = [found.stdout.strip()] if found.returncode == 0 and found.stdout.strip() else []
    return command if command and _probe(command) in wanted else []


def _uv_python(uv: str, wanted: list) -> list:
    """A supported Python that uv finds or, if none, installs (a download: it needs the internet)."""
    command = _uv_find(uv, wanted)
    if command:
        return command
    newest = f"{wanted[-1][0]}.{wanted[-1][1]}"
    print(f"Asking uv to install Python {newest} (a download of about 30 MB) ...", flush=True)
    if subprocess.run([uv, "python", "install", newest], stdin=subprocess.DEVNULL).returncode != 0:
        return []
    return _uv_find(uv, wanted)


def find_supported_python(wanted: list) -> list:
    """A command that runs a supported Python (newest first), or [] if there is none."""
    names = [f"python{major}.{minor}" for major, minor in reversed(wanted)] + ["python3", "python"]
    candidates = [[shutil.which(name)] for name in names if shutil.which(name)]
    if os.name == "nt" and shutil.which("py"):  # the Windows launcher: py -3.13
        candidates += [[shutil.which("py"), f"-{major}.{minor}"] for major, minor in reversed(wanted)]
    for command in candidates:
        if _probe(command) in wanted:
            return command
    uv = shutil.which("uv")
    return _uv_python(uv, wanted) if uv else []


def what_to_install(wanted: list, uv_tried: bool) -> str:
    """Why this Python cannot be used, and one line per platform saying what to install."""
    names = [f"{major}.{minor}" for major, minor in wanted]
    versions = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
    newest = names[-1]
    this = ".".join(str(n) for n in sys.version_info[:3])
    usable = tuple(sys.version_info[:2]) in wanted
    lines = [
        f"tfbook needs Python {versions} (the versions {_tensorflow()} has packages for). "
        + (f"This Python {this} cannot make a .venv (its venv module lacks ensurepip)"
           if usable else f"This is Python {this}")
        + ", and no other usable one was found. Install one, then run the same command again:",
        f"  Windows: Python {newest} from https://www.python.org/downloads/windows/ (it brings the py launcher)",
        f"  macOS:   brew install python@{newest}, or Python {newest} from https://www.python.org/downloads/macos/",
        f"  Linux:   sudo apt install python{newest}-venv (Debian, Ubuntu; or the python3.X-venv of another version "
        f"above), or sudo dnf install python{newest} (Fedora)",
        f"  any:     uv (https://docs.astral.sh/uv/), then: uv python install {newest}",
    ]
    if uv_tried:
        lines.append(f"(uv is installed but could not install Python {newest}: is this computer offline?)")
    return "\n".join(lines)


def venv_version() -> tuple | None:
    """The (major, minor) version of the Python that made .venv, or None without one."""
    config = VENV / "pyvenv.cfg"
    if not config.is_file():
        return None
    found = re.search(r"^version(?:_info)?\s*=\s*(\d+)\.(\d+)", config.read_text(encoding="utf-8"), re.M)
    return (int(found.group(1)), int(found.group(2))) if found else None


def run_with_a_supported_python(argv: list) -> int | None:
    """None when this Python can go on (it is supported, or a ready .venv has
    one); else the exit code of this command run by a supported Python.
    Stops with what to install when there is none."""
    wanted = supported_versions()
    if (venv_python().is_file() and venv_version() in wanted) or _usable_here():  # .venv's pip does the rest
        return None
    command = find_supported_python(wanted)
    if not command:
        sys.exit(what_to_install(wanted, uv_tried=shutil.which("uv") is not None))
    print(f"This is Python {sys.version.split()[0]}; using {' '.join(command)} instead.", flush=True)
    return run_bound(command + [str(Path(__file__).resolve()), *argv])


STOP_SIGNALS = [getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)]


def ctrl_c_reaches_the_command() -> bool:
    """Whether this process runs in its terminal's foreground, where Ctrl-C reaches
    the command (in the same process group) as well."""
    try:
        with open("/dev/tty") as tty:
            return os.tcgetpgrp(tty.fileno()) == os.getpgrp()
    except (OSError, AttributeError):  # no terminal (a service, a test), Windows
        return False


def run_bound(command: list) -> int:
    """Run ``command`` to its end and return its exit code.  Ctrl-C, SIGTERM and
    a closed terminal (SIGHUP) are passed on to it, and this process waits while
    it stops in order and says what it kept; if this process is killed, the
    command gets SIGTERM (it binds itself to TFBOOK_WRAPPER_PID, see
    course_tools/lifetime.py)."""
    children = []

    def pass_on(signum: int, frame: object) -> None:
        if signum == signal.SIGINT and ctrl_c_reaches_the_command():
            return  # once is enough: a second Ctrl-C would cut its stopping short
        for child in children:
            try:
                child.send_signal(signum)
            except (OSError, ValueError):  # gone already; Windows passes Ctrl-C on by itself
                pass

    previous = {s: signal.signal(s, pass_on) for s in STOP_SIGNALS}
    try:
        children.append(subprocess.Popen(command, env={**os.environ, "TFBOOK_WRAPPER_PID": str(os.getpid())}))
        code = children[0].wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 128 - code if code < 0 else code


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help") or in_venv():
        from course_tools.cli import main as run_command  # the standard library only, until a command runs

        return run_command(argv)
    switched = run_with_a_supported_python(argv)
    if switched is not None:
        return switched
    if argv[0] == "hub" and argv[1:2] != ["capacity"]:  # the standard library only: no .venv needed
        from course_tools.cli import main as run_command  # (the hub installs its own environment)

        return run_command(argv)
    ensure_venv()
    try:
        return run_bound([str(venv_python()), str(Path(__file__).resolve()), *argv])
    except OSError as error:  # there, but it does not run (another machine's, a library gone)
        sys.exit(f"tfbook.py: .venv's Python does not start ({error.strerror or error}): remove .venv "
                 "(rm -rf .venv) and run the same command again; it is rebuilt.")


def guarded(argv: list[str]) -> int:
    """``main``, with the machine's refusals (a full disk, a read-only checkout, a
    closed pipe) said in one line instead of a traceback."""
    try:
        code = main(argv)
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        print("\nInterrupted while setting up .venv: the next command sets it up again.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `python3 tfbook.py ... | head -1`: the reader has gone, so has the need to write
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as error:
        from course_tools.files import machine_trouble

        print(f"tfbook.py: {machine_trouble(error)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(guarded(sys.argv[1:]))
