"""``python3 tfbook.py hub``: a JupyterHub for a class on one server.

* ``cli``         -- the command's options: start (the default), stop, status, link, capacity
* ``environment`` -- the hub's virtual environment under /opt/tfbook-hub, and the npm proxy
* ``accounts``    -- one system user per student, homes only their own
* ``config``      -- the settings of one hub, and the link students click
* ``jupyterhub_config.py`` -- JupyterHub's configuration, read from those settings
* ``server``      -- start, stop, status
* ``capacity``    -- the README's capacity table, from the measured runs
"""


class HubError(Exception):
    """Something the instructor can fix; the message is one line that says what to do."""
