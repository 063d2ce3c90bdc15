"""`tfbook.py hub`'s parts that need neither root nor a browser: the link, the
roster, the one-line messages, the pins, and the JupyterHub configuration it writes."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

from course_tools.catalog import REPO_ROOT
from course_tools.hub import HubError, accounts, environment
from course_tools.hub.cli import main
from course_tools.hub.config import Settings, check_port_free
from course_tools.hub.server import CONFIG_FILE, stop


def settings(tmp_path: Path, **changes) -> Settings:
    values = dict(state=str(tmp_path / "state"), ip="127.0.0.1", port=8123, repo_url="git://127.0.0.1:9418/tfbook",
                  serve_repo=str(REPO_ROOT), branch="main", students=["student01", "student02"], instructor="teacher",
                  hub_port=40001, proxy_api_port=40002)
    return Settings(**{**values, **changes})


def test_the_link_clones_the_course_and_opens_chapter01(tmp_path: Path) -> None:
    link = urlsplit(settings(tmp_path).student_link())
    assert (link.scheme, link.netloc, link.path) == ("http", "127.0.0.1:8123", "/hub/user-redirect/git-pull")
    query = {k: v[0] for k, v in parse_qs(link.query).items()}
    assert query == {"repo": "git://127.0.0.1:9418/tfbook", "branch": "main", "targetpath": "tfbook",
                     "urlpath": "lab/tree/tfbook/chapters/Chapter01"}
    assert (REPO_ROOT / "chapters" / "Chapter01").is_dir()
    public = settings(tmp_path, ip="0.0.0.0", public_url="https://hub.example.org/").student_link()
    assert public.startswith("https://hub.example.org/hub/user-redirect/git-pull?")


def test_roster_from_a_number_or_a_file(tmp_path: Path) -> None:
    assert accounts.roster("3") == ["student01", "student02", "student03"]
    assert accounts.roster("120")[-1] == "student120"
    names = tmp_path / "class.txt"
    names.write_text("# term 1\nalice\nBob  # capitals are lowered\n\n")
    assert accounts.roster(str(names)) == ["alice", "bob"]
    twice = tmp_path / "twice.txt"
    twice.write_text("alice\nbob\nAlice\n")
    empty = tmp_path / "empty.txt"
    empty.write_text("# nobody yet\n\n")
    for spec, words in (("0", "between 1 and 999"), (str(tmp_path / "none.txt"), "not a number"),
                        ("", "give the number of students"), (str(twice), "'alice' is listed twice .lines 1 and 3"),
                        (str(empty), "names no student")):
        with pytest.raises(HubError, match=words) as caught:
            accounts.roster(spec)
        assert "\n" not in str(caught.value)


def test_names_the_system_refuses_are_named_before_anything_starts() -> None:
    with pytest.raises(HubError, match="cannot create the user 'Alice Smith'") as caught:
        accounts.check_names(["student01", "Alice Smith"])
    assert "\n" not in str(caught.value)


def test_a_user_that_cannot_be_created_stops_with_the_systems_reason(tmp_path: Path, monkeypatch) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    useradd = fake / "useradd"
    useradd.write_text("#!/bin/sh\necho 'useradd: cannot lock /etc/passwd; try again later.' >&2\nexit 1\n")
    useradd.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    passwords = tmp_path / "state" / "passwords.csv"
    with pytest.raises(HubError) as caught:
        accounts.ensure_users(["tfbnever-x"], passwords, echo=lambda line: None)
    assert str(caught.value) == "cannot create the user tfbnever-x: useradd: cannot lock /etc/passwd; try again later."
    assert accounts.read_passwords(passwords) == {}  # no password for an account that does not exist
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600


def test_a_port_in_use_is_one_line_that_names_the_option() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(HubError) as caught:
            check_port_free("127.0.0.1", port, "the hub", "--port")
    assert str(caught.value) == (f"port {port} on 127.0.0.1 (the hub) is already in use: stop what uses it, "
                                 "or choose another port with --port")


def test_without_root_the_command_says_to_use_sudo(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    code = main(["--students", "3", "--state", str(tmp_path / "state"), "--repo", "https://example.org/tfbook.git"])
    out = capsys.readouterr().out
    assert code == 1 and out.startswith("hub: tfbook.py hub needs root: run it with sudo")
    assert out.count("\n") == 1
    assert not (tmp_path / "state" / "tfbook-hub.pid").exists()


def test_without_students_the_command_says_how_to_name_them(tmp_path: Path, capsys) -> None:
    assert main(["start", "--state", str(tmp_path / "state")]) == 1
    assert capsys.readouterr().out.startswith("hub: say who the students are: --students 30")


def test_without_node_the_command_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setattr(environment.shutil, "which", lambda name: None if name in ("node", "npm") else "/usr/bin/x")
    with pytest.raises(HubError, match=r"node and npm are missing .* apt-get install nodejs npm"):
        environment.check_tools()


def test_stop_and_link_without_a_hub(tmp_path: Path, capsys) -> None:
    assert stop(tmp_path) == f"No hub is running from {tmp_path}."
    assert main(["link", "--state", str(tmp_path)]) == 1
    assert "no hub was ever started from" in capsys.readouterr().out


def test_the_hub_environment_holds_the_course_pins_and_the_hubs() -> None:
    pins = environment.requirements()
    names = [pin.split("==")[0] for pin in pins]
    assert all("==" in pin for pin in pins)
    assert len(set(names)) == len(names)
    assert environment.course_requirements() == pins[: len(environment.course_requirements())]
    assert {"jupyterhub", "nbgitpuller", "jupyterhub-idle-culler", "jupyter-resource-usage",
            "jupyter-server-proxy"} <= set(names)
    lock = json.loads((environment.PROXY_FILES / "package-lock.json").read_text())
    wanted = json.loads((environment.PROXY_FILES / "package.json").read_text())["dependencies"]
    assert lock["packages"]["node_modules/configurable-http-proxy"]["version"] == wanted["configurable-http-proxy"]


def test_jupyterhub_config_follows_the_settings(tmp_path: Path, monkeypatch) -> None:
    from traitlets.config import Config

    s = settings(tmp_path, idle_timeout_s=1800, mem_limit="3G", class_id="c1a55",
                 git_daemon=["git", "daemon", "--port=9418"])
    monkeypatch.setenv("TFBOOK_HUB_SETTINGS", str(s.save()))
    c = Config()
    exec(compile(CONFIG_FILE.read_text(), str(CONFIG_FILE), "exec"), {"get_config": lambda: c})
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8123"
    assert c.JupyterHub.authenticator_class == "pam"
    assert c.Authenticator.allowed_users == {"student01", "student02", "teacher"}
    assert c.Authenticator.admin_users == {"teacher"}
    assert c.Spawner.cmd == [f"{s.prefix}/venv/bin/jupyterhub-singleuser"] and c.Spawner.default_url == "/lab"
    assert c.Spawner.mem_limit == "3G"
    assert c.Spawner.environment["TFBOOK_HUB_CLASS"] == "c1a55"
    services = {service["name"]: service for service in c.JupyterHub.services}
    assert "--timeout=1800" in services["idle-culler"]["command"]
    assert services["course-git"]["command"] == ["git", "daemon", "--port=9418"]
    assert services["course-git"]["environment"] == {"TFBOOK_HUB_CLASS": "c1a55"}
    spawner = SimpleNamespace(user=SimpleNamespace(name="root", url="/user/root/"))
    assert c.Spawner.environment["PYTHONPATH"](spawner) == str(Path("~root").expanduser() / "tfbook")
    assert c.Spawner.environment["TENSORBOARD_PROXY_URL"](spawner) == "/user/root/proxy/%PORT%/"
    # a course from a git URL: no daemon; --idle-minutes off: no culler
    s = settings(tmp_path, serve_repo="", repo_url="https://example.org/tfbook.git", idle_timeout_s=0)
    s.save()
    c = Config()
    exec(compile(CONFIG_FILE.read_text(), str(CONFIG_FILE), "exec"), {"get_config": lambda: c})
    assert {service["name"] for service in c.JupyterHub.services} == {"tfbook-status"}
    assert stat.S_IMODE(Path(s.state).stat().st_mode) == 0o700


def test_a_second_start_leaves_the_running_hub_alone(tmp_path: Path, monkeypatch, capsys) -> None:
    state = tmp_path / "state"
    state.mkdir()
    running = os.getppid()  # a live process stands in for the running hub
    (state / "tfbook-hub.pid").write_text(f"{running}\n")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert main(["--students", "3", "--state", str(state), "--repo", "https://example.org/tfbook.git"]) == 1
    out = capsys.readouterr().out
    assert out == (f"hub: a hub is already running from {state} (pid {running}): stop it with "
                   "`python3 tfbook.py hub stop`\n")
    assert (state / "tfbook-hub.pid").read_text() == f"{running}\n"


def test_hub_runs_without_building_the_repositorys_venv(tmp_path: Path) -> None:
    """`tfbook.py hub` uses the standard library only: a server that just runs the hub gets no .venv."""
    import shutil
    import subprocess
    import sys

    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("tfbook.py", "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, repo / name)
    shutil.copytree(REPO_ROOT / "course_tools", repo / "course_tools",
                    ignore=shutil.ignore_patterns("__pycache__", "node_modules"))
    done = subprocess.run([sys.executable, str(repo / "tfbook.py"), "hub", "link", "--state", str(tmp_path / "s")],
                          cwd=repo, capture_output=True, text=True, timeout=120)
    assert done.stdout == f"hub: no hub was ever started from {tmp_path / 's'} (start one with " \
                          "`python3 tfbook.py hub`)\n", done.stdout + done.stderr
    assert not (repo / ".venv").exists()


def test_sizes_and_minutes_are_read_as_the_spawner_and_culler_need_them() -> None:
    from course_tools.hub import checks

    assert [checks.memory(v) for v in ("3G", "3GB", "3GiB", "2.5g", "512M", "512 MiB")] == \
        ["3G", "3G", "3G", "2.5G", "512M", "512M"]
    assert [checks.idle_seconds(v) for v in ("10", "60", "off", "OFF")] == [600, 3600, 0, 0]
    for call, value in ((checks.memory, "lots"), (checks.memory, "100M"), (checks.memory, "3"),
                        (checks.idle_seconds, "9"), (checks.idle_seconds, "0"), (checks.idle_seconds, "-5")):
        with pytest.raises(HubError) as caught:
            call(value)
        assert "\n" not in str(caught.value) and str(caught.value).startswith("--")
    assert checks.port(65535, "--port") == 65535
    with pytest.raises(HubError, match="--git-port 0: a port is a number from 1 to 65535"):
        checks.port(0, "--git-port")
