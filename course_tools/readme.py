"""The README's generated sections: text between two HTML comments, rewritten
whole or not at all.

``tfbook.py toc`` writes the contents table and ``tfbook.py hub capacity``
the capacity table this way.  Each first builds its section from the runs
(refusing, with ``NotReady``, when a run is missing), then swaps it in
through a temporary file, so the README is never left half written.
"""

from __future__ import annotations

from pathlib import Path

from .files import write_atomic


class NotReady(Exception):
    """The section cannot be regenerated yet; the message says why.  README.md is unchanged."""


def replace_between(text: str, begin: str, end: str, body: str) -> str:
    """``text`` with what stands between the markers ``begin`` and ``end`` replaced by ``body``."""
    if text.count(begin) != 1 or text.count(end) != 1:
        raise NotReady(f"README.md must hold the markers {begin} and {end} once each; it is unchanged.")
    head, rest = text.split(begin)
    _, tail = rest.split(end)
    return f"{head}{begin}\n{body}\n{end}{tail}"


def rewrite(readme: Path, updated: str, what: str, command: str, check_only: bool = False) -> str:
    """Write ``updated`` (the whole README) unless only checking; one line says what happened."""
    if readme.read_text(encoding="utf-8") == updated:
        return f"README.md's {what} is up to date"
    if check_only:
        raise NotReady(f"README.md's {what} differs from the last runs: run `{command}`.")
    write_atomic(readme, updated.encode("utf-8"))
    return f"README.md's {what} updated"
