"""``python -m course_tools COMMAND ...``: the same as ``python3 tfbook.py COMMAND ...``
inside the virtual environment."""

import sys

from .cli import main

sys.exit(main(sys.argv[1:]))
