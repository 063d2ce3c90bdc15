"""The course's own tooling, for maintainers and instructors (students read
``tfbook_utils`` instead).

Everything here is described by one list of notebooks, ``catalog.COURSE``:

* ``cli``       -- the commands behind ``python3 tfbook.py ...``
* ``runner``    -- runs one notebook headless (nbclient), survives dead kernels
* ``quick``     -- what ``--quick`` changes in a notebook (the quick-mode contract)
* ``checks``    -- what a clean notebook looks like: tags in order, no warnings
* ``runs``      -- whole runs: their own folders, results published as they finish
* ``lifetime``  -- nothing outlives its command: stop signals, parent death, live run folders
* ``files``     -- atomic, synced, checked writes, and one line for a machine's refusals
* ``contents``  -- the README's contents table (``tfbook.py toc``)
* ``shipping``  -- ``tfbook.py ship-checkpoints``: all files or none
* ``colab``     -- the Colab setup cell written into every notebook
* ``bench``     -- ``tfbook.py bench``: how fast this machine runs the lecture
* ``hub``       -- ``tfbook.py hub``: a JupyterHub for a class, and its capacity table

Nothing in ``tfbook_utils`` imports this package.
"""
