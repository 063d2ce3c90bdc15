"""Quick mode's loop cutting: rule 1 of the quick-mode contract, which
``runner.py``'s docstring states in full."""

from __future__ import annotations

import copy
import math
import re
from typing import Any

QUICK_STEPS = 200
QUICK_REPORTS = 4
RANGE = re.compile(r"\brange\((\d+)\)")
MODULO = re.compile(r"%\s*(\d+)\s*==\s*0")


def shorten(source: str, steps: int = QUICK_STEPS, reports: int = QUICK_REPORTS) -> str:
    """Quick-mode version of one code cell: ``range(N)`` with N above ``steps``
    becomes ``range(steps)``, and the cell's report interval shrinks so the
    loop still reports (at most ``reports`` times)."""
    loops = [int(n) for n in RANGE.findall(source) if int(n) > steps]
    if not loops:
        return source
    longest = max(loops)
    source = RANGE.sub(lambda m: f"range({min(int(m.group(1)), steps)})", source)

    def interval(match: re.Match) -> str:
        k = int(match.group(1))
        count = max(1, min(longest // k, reports))
        return f"% {max(1, math.ceil(steps / count))} == 0"

    return MODULO.sub(interval, source)


def quick_version(nb: Any, steps: int | None = None) -> Any:
    """A copy of notebook ``nb`` (nbformat) with every code cell shortened."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = shorten(cell.source, steps or QUICK_STEPS)
    return nb
