"""What a clean notebook of the course looks like, read from its cells and outputs.

* Its lecture tags **[XXX-01]**, **[XXX-02]**, ... stand in order, each in
  a markdown cell right above a code cell (the slides say "change the line
  in [MSE-04]").
* Its outputs hold no error, nothing on stderr, no warning text.
* Its result is the last ``Loss: ..., Accuracy: ...`` line it printed, or a
  line starting ``Result:`` (what the README's contents table quotes).
"""

from __future__ import annotations

import copy
import re
from typing import Any

TAG = re.compile(r"\*\*\[([A-Z]+(?:-EX)?)-(\d+)\]\*\*")
RESULT = re.compile(r"(?:Step: *\d+, *)?Loss: *([-0-9.eE+na]+)(?:, *Accuracy: *([0-9.]+))?")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def plain(text: str) -> str:
    """``text`` without terminal colour codes (tracebacks from a kernel have them)."""
    return ANSI.sub("", text)


def outputs_text(cell: Any) -> list[tuple[str, str]]:
    """(kind, text) for each output of a code cell."""
    found = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            found.append((out.get("name", "stdout"), out.get("text", "")))
        elif kind == "error":
            found.append(("error", plain(f"{out.get('ename')}: {out.get('evalue')}")))
        elif kind in ("execute_result", "display_data"):
            found.append((kind, out.get("data", {}).get("text/plain", "")))
    return found


def output_problems(nb: Any) -> list[str]:
    """Errors, stderr and warning text in the outputs, one line each."""
    problems = []
    for number, cell in enumerate((c for c in nb.cells if c.cell_type == "code"), start=1):
        for kind, text in outputs_text(cell):
            if kind == "error":
                problems.append(f"code cell {number}: {text[:200]}")
            elif kind == "stderr":
                problems.append(f"code cell {number} wrote to stderr: {plain(text).strip()[:200]!r}")
            elif re.search(r"Warning|WARNING|deprecat|^ERROR|Traceback", text, re.MULTILINE):
                problems.append(f"code cell {number} shows a warning: {plain(text).strip()[:200]!r}")
    return problems


def final_result(nb: Any) -> str:
    """The last 'Loss: ..., Accuracy: ...' (or a line starting 'Result:')
    that the notebook printed."""
    last = ""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for kind, text in outputs_text(cell):
            if kind not in ("stdout", "execute_result"):
                continue
            for line in text.splitlines():
                if line.startswith("Result:"):
                    last = line.removeprefix("Result:").strip()
                elif (m := RESULT.search(line)) is not None:
                    last = f"accuracy {m.group(2)}" if m.group(2) else f"loss {m.group(1)}"
    return last


def tag_prefix(nb: Any) -> str:
    """The tag prefix of a notebook's first tagged cell ('MSE'), or ''."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and (match := TAG.search(cell.source)):
            return match.group(1)
    return ""


def tag_problems(nb: Any, repeated: tuple[str, ...] = ()) -> list[str]:
    """Every **[XXX-NN]** tag numbered 01, 02, ... per prefix, in order, each
    in a markdown cell directly followed by a code cell.  A tag in
    ``repeated`` (``"CDS-04"``) may stand twice in a row, where the lecture's
    own notebook numbered two cells alike."""
    problems = []
    expected: dict[str, int] = {}
    cells = nb.cells
    for index, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        for prefix, number in TAG.findall(cell.source):
            want = expected.get(prefix, 1)
            if f"{prefix}-{number}" in repeated and int(number) == want - 1:
                want = int(number)
            if int(number) != want:
                problems.append(f"tag [{prefix}-{number}] found where [{prefix}-{want:02d}] was expected")
            expected[prefix] = int(number) + 1
            if index + 1 >= len(cells) or cells[index + 1].cell_type != "code":
                problems.append(f"tag [{prefix}-{number}] is not followed by a code cell")
    if not expected:
        problems.append("no **[XXX-NN]** tags found")
    return problems


def strip_for_commit(nb: Any) -> Any:
    """Drop run-specific metadata (timings, widget state) before committing."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("ExecuteTime", None)
        for out in cell.get("outputs", []):
            out.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)
    return nb
