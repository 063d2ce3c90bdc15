"""Silence TensorFlow's start-up chatter and deprecation notices.

The lecture's code is TensorFlow 1 style (``tf.compat.v1``).  TensorFlow 2.21
runs it fine but prints C++ INFO lines at import time and a deprecation
notice for almost every ``tf.compat.v1`` call.  Students should see their
results, not that noise.  Errors still come through: only INFO and WARNING
lines are hidden, and anything TensorFlow writes while failing to import is
printed again.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import warnings


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow once with file descriptor 2 (stderr) sent to a file.

    TensorFlow logs a few INFO lines from C++ before its own log-level
    setting (TF_CPP_MIN_LOG_LEVEL) takes effect, so the only way to hide them
    is to catch what the process writes to stderr during the import.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved_fd = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved_fd, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
        captured.seek(0)
        # Keep real problems (E = error, F = fatal) visible.
        for line in captured.read().decode(errors="replace").splitlines():
            if re.match(r"[EF]\d{4} ", line):
                print(line, file=sys.stderr)


def silence_tensorflow() -> None:
    """Hide TensorFlow's INFO/WARNING logs and Python deprecation warnings."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _import_tensorflow_quietly()
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    for module in ("tensorflow", "keras", "tf_keras", "google.protobuf", "absl"):
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)
        warnings.filterwarnings("ignore", category=FutureWarning, module=module)
        warnings.filterwarnings("ignore", category=UserWarning, module=module)
