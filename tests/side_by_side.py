"""Notebooks run two at a time in the tests, each kernel computing on one core.

On a 2-core machine a kernel spends much of its life on one core (importing
TensorFlow takes about 10 s of one core here, then building the graph and
drawing plots), so two kernels side by side finish a set of notebooks in
about half the time for the small ones and a sixth less for the CNNs.
Each kernel gets one compute thread: two kernels that each spread their
matrix work over both cores slow each other down, while one thread trains
the CNN at 0.9 of two threads' speed (``tfbook.py bench``, settings table).
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from unittest import mock

WORKERS = 2
ONE_CORE_EACH = {"TF_NUM_INTRAOP_THREADS": "1", "OMP_NUM_THREADS": "1"}


def one_core_each() -> AbstractContextManager:
    """While it is active, kernels and child processes started from this process use one compute thread."""
    return mock.patch.dict(os.environ, ONE_CORE_EACH)
