"""``python3 tfbook.py hub``: a JupyterHub for a class on one server.

* ``cli``         -- the command's options: start (the default), install-service, run, stop, status, logs,
                     link, reset-password, end-of-term, capacity
* ``checks``      -- every setting and account checked before anything starts
* ``environment`` -- the hub's virtual environment under /opt/tfbook-hub, and the npm proxy
* ``accounts``    -- one system user per student, homes only their own
* ``classes``     -- the classes on this server, and the processes each one started
* ``config``      -- the settings of one hub, and the link students click
* ``course_git``  -- the mirror of the course branch that the git daemon serves
* ``jupyterhub_config.py`` -- JupyterHub's configuration, read from those settings
* ``server``      -- start, stop, status
* ``service``     -- the hub as a systemd service
* ``term``        -- the end of term (archive, then remove), and password resets
* ``capacity``    -- the README's capacity table, from the measured runs
"""


class HubError(Exception):
    """Something the instructor can fix; the message is one line that says what to do."""
