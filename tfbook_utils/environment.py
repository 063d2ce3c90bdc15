"""Whether a person is at the screen.

The project's own runner (``python3 tfbook.py lecture``, the tests) executes
the notebooks without a browser and sets ``TFBOOK_HEADLESS=1``.  Cells that
wait for a person -- the drawing canvas, the Playground's buttons -- then do
something sensible on their own (draw a sample digit, train once) so that
the notebook still runs top to bottom.
"""

from __future__ import annotations

import os


def headless() -> bool:
    """True when the notebook runs without a browser (``TFBOOK_HEADLESS=1``)."""
    return os.environ.get("TFBOOK_HEADLESS") == "1"
