"""One exception type for every mistake a student can cause.

A student who runs a cell out of order, deletes a data file or changes a
hyperparameter before restoring a checkpoint should read one short sentence
that says what happened and what to do, not fifty lines of traceback from
inside TensorFlow.  Jupyter (IPython) prints whatever ``_render_traceback_``
returns instead of the traceback; plain ``python`` scripts get the same
treatment from the small excepthook installed below.
"""

from __future__ import annotations

import sys
from types import TracebackType


class TfbookError(Exception):
    """An error with a message meant for the student, shown without traceback."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class DataError(TfbookError):
    """A data file is missing, truncated or not the file it claims to be."""


class CheckpointError(TfbookError):
    """A checkpoint is missing, unreadable or does not fit the graph."""


class ArgumentError(TfbookError, ValueError):
    """A function was called with a value it cannot use (``next_batch(-3)``).

    Also a ``ValueError``, so code that catches the standard error still does.
    """


def _excepthook(
    kind: type[BaseException], error: BaseException, tb: TracebackType | None
) -> None:
    if isinstance(error, TfbookError):
        print(f"{kind.__name__}: {error}", file=sys.stderr)
    else:
        _previous_hook(kind, error, tb)


_previous_hook = sys.excepthook
if sys.excepthook is sys.__excepthook__:
    sys.excepthook = _excepthook
