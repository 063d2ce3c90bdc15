"""Quick mode: the whole course in a few minutes, for tests and a first look.

The contract, in full (``tfbook.py lecture --quick``, ``tfbook.py test``):

1. **Loops are cut, in memory only.**  In the code handed to the kernel,
   ``for ... in range(N)`` with a literal ``N`` above the notebook's quick
   length (``QUICK_STEPS``, or the catalog's ``quick_steps``) becomes
   ``range(<quick length>)``, and the literal report interval
   ``i % K == 0`` of that cell is scaled so the loop still reports a few
   times (``QUICK_REPORTS``).  Nothing else in a cell changes, and the
   committed notebooks are never touched: executed copies show the
   students' source.
2. **Quick runs restore the shipped checkpoints.**  A cut loop never saves
   the step that a later notebook restores (``mdc_session-4000``,
   ``cnn_session-20000``), so the result and recognizer notebooks find no
   checkpoint of their own and restore the pretrained one from
   ``checkpoints/``, as a student does who has not trained yet.
3. **No downloads.**  ``TFBOOK_OFFLINE=1`` is set, so the CIFAR-10 notebook
   uses its labelled offline stand-in unless the data set is in the cache.
4. **Results are not the lecture's.**  Tables of a quick run say QUICK;
   its accuracies only have to be well above chance (the catalog's
   ``min_quick_accuracy``).
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any

QUICK_STEPS = 200
QUICK_REPORTS = 4
RANGE = re.compile(r"\brange\((\d+)\)")
MODULO = re.compile(r"%\s*(\d+)\s*==\s*0")


def shorten(source: str, steps: int = QUICK_STEPS) -> str:
    """Quick-mode version of one code cell (rule 1 above)."""
    loops = [int(n) for n in RANGE.findall(source) if int(n) > steps]
    if not loops:
        return source
    longest = max(loops)
    source = RANGE.sub(lambda m: f"range({min(int(m.group(1)), steps)})", source)

    def interval(match: re.Match) -> str:
        k = int(match.group(1))
        reports = max(1, min(longest // k, QUICK_REPORTS))
        return f"% {max(1, math.ceil(steps / reports))} == 0"

    return MODULO.sub(interval, source)


def quick_version(nb: Any, steps: int | None = None) -> Any:
    """A copy of notebook ``nb`` (nbformat) with every code cell shortened."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = shorten(cell.source, steps or QUICK_STEPS)
    return nb
