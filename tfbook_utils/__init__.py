"""Helpers shared by the notebooks of 「TensorFlowによるニューラルネットワーク入門」.

``import tfbook_utils`` at the top of a notebook, before TensorFlow, keeps
TensorFlow quiet (see ``quiet.py``).  Everything else is in small modules,
one job each:

* ``mnist``        -- MNIST from the shipped files (``read_data_sets``)
* ``input_data``   -- the slides' ``input_data.read_data_sets``, offline
* ``orenist``      -- the lecture's toy set of strokes and crosses
* ``checkpoints``  -- where checkpoints are saved, which one to restore
* ``recognizer``   -- MNIST-style preprocessing of a drawing, prediction
* ``canvas``       -- the drawing widget for the handwriting recognizer
* ``cifar10``      -- CIFAR-10's test set, downloaded once, read as records
* ``playground``   -- the in-notebook Neural Network Playground (Chapter03)
* ``notebook_tensorboard`` -- lets ``%tensorboard`` find TensorBoard (see there)
* ``quiet``, ``errors``, ``paths``, ``environment`` -- the small plumbing under them

The course's own tooling (the runner, tests, benchmark) lives in
``course_tools`` beside this package; nothing here imports it.
"""

from . import errors as _errors  # noqa: F401  (installs the friendly excepthook)
from .notebook_tensorboard import prepare_tensorboard
from .quiet import silence_tensorflow

silence_tensorflow()
prepare_tensorboard()

__all__ = ["silence_tensorflow"]
