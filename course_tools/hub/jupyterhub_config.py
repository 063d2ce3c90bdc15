"""JupyterHub's configuration for ``python3 tfbook.py hub`` (a class on one server).

JupyterHub runs this file (``jupyterhub -f``) with ``c = get_config()``; the
values come from the hub's ``settings.json`` (see ``config.py``), named by
``TFBOOK_HUB_SETTINGS``.  What each part is for:

* Accounts: PAM, i.e. the system accounts that ``tfbook.py hub`` creates for
  the students with a password each.  Only the roster and the instructor
  may log in; the instructor is the hub's admin (``/hub/admin``).
* One server per student: ``LocalProcessSpawner`` runs each student's
  ``jupyterhub-singleuser`` as that student's system user, in their home
  (mode 700), so no student can read or change another's files.
* The course: nbgitpuller (the link) clones it into ``~/tfbook``; the
  kernels import that clone's ``tfbook_utils`` (``PYTHONPATH``), so data
  and checkpoints are the clone's.
* Idle culling: the ``jupyterhub-idle-culler`` service stops servers that
  nobody used for ``idle_timeout_s``.
* Resource usage: jupyter-resource-usage shows each student their memory
  (against ``mem_limit``) and CPU; ``tfbook.py hub status`` reads the same
  numbers for the instructor through the ``tfbook-status`` service's token.
* The course's git repository, when it is the instructor's local clone:
  ``git daemon`` on 127.0.0.1, run and stopped by the hub as a service; it
  serves a mirror that holds the course branch only (``course_git.py``).
* Every process carries ``TFBOOK_HUB_CLASS`` (``classes.py``): ``hub stop``
  ends those of this class and no other's.
"""

import json
import os
import pwd
from pathlib import Path

c = get_config()  # noqa: F821 - JupyterHub provides get_config when it runs this file

settings = json.loads(Path(os.environ["TFBOOK_HUB_SETTINGS"]).read_text(encoding="utf-8"))
state = Path(settings["state"])
venv = Path(settings["prefix"]) / "venv"
proxy = Path(settings["prefix"]) / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
course_folder = "tfbook"

# --- the hub, its proxy and their files -------------------------------------
c.JupyterHub.bind_url = f"{'https' if settings['ssl_cert'] else 'http'}://{settings['ip']}:{settings['port']}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{settings['hub_port']}"
if settings["ssl_cert"]:
    c.JupyterHub.ssl_cert = settings["ssl_cert"]
    c.JupyterHub.ssl_key = settings["ssl_key"]
c.ConfigurableHTTPProxy.command = [str(proxy)]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['proxy_api_port']}"
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every student's server
c.JupyterHub.cleanup_proxy = True

# --- who may log in -----------------------------------------------------------
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False  # authentication only; no login sessions to open or close
c.Authenticator.allowed_users = set(settings["students"]) | {settings["instructor"]}
c.Authenticator.admin_users = {settings["instructor"]}

# --- one server per student, as that student ---------------------------------
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(venv / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 120  # a busy 2-core machine takes 15 s or more
c.Spawner.http_timeout = 120
c.Spawner.mem_limit = settings["mem_limit"] or None  # shown by jupyter-resource-usage (MEM_LIMIT)
c.Spawner.args = [
    "--LabApp.extension_manager=readonly",  # no extension listing from the internet
    "--ResourceUseDisplay.track_cpu_percent=True",
]


def _home(spawner) -> Path:
    return Path(pwd.getpwnam(spawner.user.name).pw_dir)


c.Spawner.environment = {
    "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
    # the kernels import the student's own clone of tfbook_utils (its data, its checkpoints)
    "PYTHONPATH": lambda spawner: str(_home(spawner) / course_folder),
    # %tensorboard's dashboard through the student's server (jupyter-server-proxy), not localhost:6006
    "TENSORBOARD_PROXY_URL": lambda spawner: f"{spawner.user.url}proxy/%PORT%/",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    # the class's mark: `hub stop` ends the processes that carry it (kernels inherit it), and only those
    "TFBOOK_HUB_CLASS": settings["class_id"],
}

# --- services: the idle culler, the status token, the course's git daemon ------
tag = {"TFBOOK_HUB_CLASS": settings["class_id"]}
c.JupyterHub.services = [{"name": "tfbook-status", "api_token": settings["status_token"]}]
c.JupyterHub.load_roles = [
    # `tfbook.py hub status`: who is running, and each server's memory and CPU
    {"name": "tfbook-status", "services": ["tfbook-status"],
     "scopes": ["list:users", "read:users", "read:servers", "access:servers"]},
]
if settings["idle_timeout_s"]:  # 0: --idle-minutes off
    c.JupyterHub.services.append(
        {"name": "idle-culler", "environment": tag,
         "command": [str(venv / "bin" / "python"), "-m", "jupyterhub_idle_culler",
                     f"--timeout={settings['idle_timeout_s']}", "--cull-every=60"]})
    c.JupyterHub.load_roles.append(
        {"name": "idle-culler", "services": ["idle-culler"],
         "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]})
if settings["git_daemon"]:
    # only the course branch (a mirror of it, see course_git.py), read-only, on 127.0.0.1
    c.JupyterHub.services.append({"name": "course-git", "environment": tag, "command": settings["git_daemon"]})
