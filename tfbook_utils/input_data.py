"""The module the slides import MNIST from, under the name they use.

TensorFlow 1 shipped ``tensorflow/examples/tutorials/mnist/input_data.py``,
and the lecture's code reads::

    from tensorflow.examples.tutorials.mnist import input_data
    mnist = input_data.read_data_sets("/tmp/data/", one_hot=True)

TensorFlow 2 removed it.  Change only the import line and the rest runs as
printed, offline::

    from tfbook_utils import input_data
    mnist = input_data.read_data_sets("/tmp/data/", one_hot=True)

``read_data_sets`` (in ``mnist.py``) takes TF 1.x's arguments with their
meaning.  It reads the folder when it holds the four MNIST files and uses
the copy shipped with the course for any it lacks; it never writes there.
"""

from .mnist import DataSet, Datasets, read_data_sets

__all__ = ["DataSet", "Datasets", "read_data_sets"]
