"""The course, notebook by notebook: the one list every tool reads.

The runner's order, the README's contents table, the notebook tests, the
benchmark's models and ``ship-checkpoints`` are all derived from ``COURSE``
below.  Adding a notebook to the course is one ``Notebook(...)`` entry here
plus the ``.ipynb`` file in its chapter folder; a test fails if either is
missing.

This module uses only the standard library, so commands that run no
TensorFlow (``tfbook.py toc``, ``--help``) can read it quickly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

REPO_ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = REPO_ROOT / "chapters"

Kind = Literal["lecture", "exercise", "beyond"]


@dataclass(frozen=True)
class Benchmarked:
    """How ``tfbook.py bench`` times this notebook's model: the cells before
    ``loop_cell`` build it, then the lecture's training loop is timed."""

    label: str  # the model in the bench's tables, e.g. "softmax"
    seed: int  # the notebook's np.random / tf seed
    batch: int  # mnist.train.next_batch(batch)
    optimizer: str  # as the table shows it
    learning_rate: float
    loop_cell: int  # number of the tagged training-loop cell
    steps: int  # the lecture's training steps
    eval_every: int  # the lecture's evaluation interval
    eval_chunk: int | None  # the notebook evaluates the test set in chunks of this (None: all at once)
    round_steps: int  # steps per measured round in a full bench
    feed_extra: str = ""  # more of the training feed_dict, as the notebook writes it
    eval_feed: str = ""  # more of the evaluation feed_dict
    # the layers, as the bench names them: picks its tf.keras twin (course_tools.bench.models.KERAS_TWINS)
    architecture: str = field(kw_only=True)


@dataclass(frozen=True)
class Notebook:
    chapter: str  # folder under chapters/
    title: str  # the lecture's title, also the file name
    tag: str  # prefix of its cell tags: **[MSE-01]**, **[MSE-02]**, ...
    kind: Kind  # the lecture's own notebook, a classroom exercise, or beyond the lecture
    shows: str  # one line for the README
    lecture_result: str = "-"  # what the 2017 notebook printed
    min_quick_accuracy: float | None = None  # a quick run must reach this (well above chance)
    quick_steps: int | None = None  # loop length in quick mode, when the default is too short to learn
    ships: str | None = None  # the checkpoint it saves that ships in checkpoints/
    ships_graph: bool = False  # ... with its .meta graph file (the recognizer rebuilds the network from it)
    restores: str | None = None  # the checkpoint it restores (a quick run finds only the shipped one)
    instructor_trains: bool = False  # a class on one server (plan B) leaves this CNN training to the instructor
    bench: Benchmarked | None = None
    repeated_tags: tuple[str, ...] = ()  # tags the 2017 notebook gave two cells in a row ("CDS-04")
    browser: bool = False  # computes in the browser (TensorFlow.js): runs in JupyterLab in Chromium
    assignment: bool = False  # also an nbgrader assignment's source (course_tools/assignments)

    @property
    def path(self) -> Path:
        return CHAPTERS / self.chapter / f"{self.title}.ipynb"

    @property
    def relative_path(self) -> str:
        """``chapters/<chapter>/<title>.ipynb``, with forward slashes."""
        return f"chapters/{self.chapter}/{self.title}.ipynb"

    @property
    def file_name(self) -> str:
        return f"{self.title}.ipynb"

    @property
    def assignment_name(self) -> str:
        """The nbgrader assignment this notebook is the source of ("mse-ex")."""
        return self.tag.lower()

    @property
    def assignment_file(self) -> str:
        """The student's notebook in that assignment (no spaces: it goes into URLs and shell commands)."""
        return self.title.replace(" ", "_") + ".ipynb"


# In teaching order: a notebook may need the one before it (the result
# notebook restores what the training notebook saved).
COURSE: tuple[Notebook, ...] = (
    # Chapter01
    Notebook("Chapter01", "Least squares example", "LSE", "lecture",
             "Degree-4 polynomial fit of monthly temperatures (Adam)", "loss 21.43 → about 17–20"),
    Notebook("Chapter01", "Least squares degree exercise", "LSE-EX", "exercise",
             "Exercise (assignment): polynomial degree 1 to 5, loss and curves",
             quick_steps=20000, assignment=True),  # the whole run takes a minute: graded as it is
    # Chapter02
    Notebook("Chapter02", "Maximum likelihood estimation example", "MLE", "lecture",
             "Logistic regression on 2-D points, decision boundary", "accuracy 0.943",
             min_quick_accuracy=0.75,
             # Adam at its default rate needs about 2,000 cheap steps before the boundary reaches the data
             quick_steps=2000),
    Notebook("Chapter02", "Comparing accuracy for training and test sets", "CAF", "lecture",
             "Training vs test accuracy curves", "curves"),
    Notebook("Chapter02", "MNIST dataset sample", "MDS", "lecture",
             "What MNIST images and one-hot labels look like"),
    Notebook("Chapter02", "MNIST softmax estimation", "MSE", "lecture",
             "Softmax (linear multi-class) classifier on MNIST", "accuracy ≈ 0.92",
             min_quick_accuracy=0.80,
             bench=Benchmarked("softmax", 20160604, 100, "Adam()", 0.001, 7, 2000, 100, None, 2000,
                               architecture="softmax")),
    Notebook("Chapter02", "MNIST softmax estimation exercise", "MSE-EX", "exercise",
             "Exercise, slide 65: Adam vs GradientDescent at three rates", assignment=True),
    # Chapter03
    Notebook("Chapter03", "Single layer network example", "SNE", "lecture",
             "2 hidden tanh units on 2-D data", "accuracy 0.954"),
    Notebook("Chapter03", "Double layer network example", "DNE", "lecture",
             "Two hidden layers on XOR-like data", "accuracy 0.89"),
    Notebook("Chapter03", "MNIST single layer network", "MSL", "lecture",
             "1,024 relu units on MNIST", "accuracy 0.9706",
             min_quick_accuracy=0.85,
             bench=Benchmarked("1,024 units", 20160612, 100, "Adam()", 0.001, 6, 2000, 100, None, 600,
                               architecture="hidden layer")),
    Notebook("Chapter03", "MNIST single layer network with TensorBoard", "MST", "lecture",
             "The same network with TensorBoard logs", "accuracy 0.9708",
             min_quick_accuracy=0.85),
    Notebook("Chapter03", "MNIST single layer network exercise", "MSL-EX", "exercise",
             "Exercise, slide 79: 128 / 512 / 1,024 / 4,096 hidden units", assignment=True),
    Notebook("Chapter03", "Playground", "PLG", "exercise",
             "Exercise, slides 49 and 79: the Playground web page, in the notebook"),
    # Chapter04
    Notebook("Chapter04", "ORENIST filter example", "OFE", "lecture",
             "Hand-made edge filters and pooling on ORENIST"),
    Notebook("Chapter04", "ORENIST classification example", "OCE", "lecture",
             "Classifying ORENIST with fixed edge filters", "accuracy 1.0"),
    Notebook("Chapter04", "ORENIST dynamic filter example", "ODE", "lecture",
             "Filters that learn themselves (ORENIST)", "accuracy 1.0"),
    Notebook("Chapter04", "MNIST dynamic filter classification", "MDC", "lecture",
             "One learned convolution layer; saves checkpoints", "accuracy 0.9804",
             min_quick_accuracy=0.80, ships="mdc_session-4000",
             bench=Benchmarked("one-layer CNN", 20160703, 100, "Adam(0.0005)", 0.0005, 7, 4000, 100, None, 200,
                               architecture="one-layer CNN"), instructor_trains=True),
    Notebook("Chapter04", "MNIST dynamic filter classification with TensorBoard", "MDT", "lecture",
             "The same CNN with TensorBoard logs", "accuracy 0.983",
             min_quick_accuracy=0.80, instructor_trains=True),
    Notebook("Chapter04", "MNIST dynamic filter result", "MDR", "lecture",
             "Learned filters, feature maps, misclassified digits", restores="mdc_session-4000"),
    Notebook("Chapter04", "MNIST dynamic filter classification exercise", "MDC-EX", "exercise",
             "Exercise, slide 108: 4 / 16 / 32 filters", instructor_trains=True, assignment=True),
    # Chapter05
    Notebook("Chapter05", "MNIST double layer CNN classification", "CNN", "lecture",
             "Two convolution layers, dropout: about 99 %", "accuracy 0.9918",
             min_quick_accuracy=0.50, ships="cnn_session-20000",
             bench=Benchmarked("two-layer CNN", 20160704, 50, "Adam(1e-4)", 0.0001, 8, 20000, 500, 2500, 200,
                               feed_extra=", keep_prob: 0.5", eval_feed=", keep_prob: 1.0",
                               architecture="two-layer CNN"), instructor_trains=True),
    Notebook("Chapter05", "MNIST double layer CNN exercise", "CNN-EX", "exercise",
             "Exercise (assignment): the trained CNN's confusion matrix, its most common mistake",
             restores="cnn_session-20000", assignment=True),
    Notebook("Chapter05", "Handwriting recognizer", "HWR", "lecture",
             "Draw a digit with the mouse; the CNN reads it", restores="cnn_session-20000"),
    Notebook("Chapter05", "CIFAR-10 dataset samples", "CDS", "lecture",
             "CIFAR-10 records with tf.data, image distortions",
             repeated_tags=("CDS-04",)),  # the 2017 notebook tagged two cells [CDS-04]
    # Chapter06: beyond the lecture
    Notebook("Chapter06", "Vanishing gradients", "VGR", "beyond",
             "Beyond the lecture: a deep MLP with sigmoid vs ReLU, per-layer gradients",
             min_quick_accuracy=0.75),  # the ReLU network's (the sigmoid one stays at chance)
    Notebook("Chapter06", "Optimizer comparison", "OPC", "beyond",
             "Beyond the lecture: SGD, Momentum, AdaGrad, RMSProp, Adam on one model",
             min_quick_accuracy=0.85),
    Notebook("Chapter06", "Overfitting and regularization", "OFR", "beyond",
             "Beyond the lecture: 300 images, 6x100 MLP; L2, L1, dropout, early stopping",
             min_quick_accuracy=0.70),
    Notebook("Chapter06", "MNIST batch normalization CNN", "BNC", "beyond",
             "Beyond the lecture: batch normalization by hand, learning-rate decay",
             min_quick_accuracy=0.90, ships="bnc_session-10000", ships_graph=True),
    Notebook("Chapter06", "Graph mode and tf.keras", "GMK", "beyond",
             "Beyond the lecture: the same models in graph mode and in tf.keras",
             min_quick_accuracy=0.85),
    Notebook("Chapter06", "TensorFlow.js", "TFJS", "beyond",
             "Beyond the lecture: the TensorFlow.js walkthrough's CNN trained in the browser, live curves",
             min_quick_accuracy=0.50, browser=True),
)


def notebooks(kind: Kind | None = None) -> list[Notebook]:
    """The course in teaching order (only one kind, if given)."""
    return [n for n in COURSE if kind is None or n.kind == kind]


def by_tag(tag: str) -> Notebook:
    """The notebook whose cells are tagged ``tag`` (``"CNN"``, ``"mse-ex"``)."""
    for notebook in COURSE:
        if notebook.tag.lower() == tag.lower():
            return notebook
    raise KeyError(f"no notebook is tagged {tag!r}; known tags: {', '.join(n.tag for n in COURSE)}")


def by_checkpoint(prefix: str) -> Notebook:
    """The notebook that trains the shipped checkpoint ``prefix``."""
    for notebook in COURSE:
        if notebook.ships == prefix:
            return notebook
    raise KeyError(f"no notebook ships {prefix!r}; shipped: {', '.join(n.ships for n in shipping())}")


def assignments() -> list[Notebook]:
    """The notebooks that are also nbgrader assignments (their sources, with solutions), in teaching order."""
    return [n for n in COURSE if n.assignment]


def shipping() -> list[Notebook]:
    """The notebooks whose trained checkpoint ships in checkpoints/."""
    return [n for n in COURSE if n.ships]


def select(names: list[str]) -> list[Notebook]:
    """The notebooks ``names`` pick, in teaching order: each name is a tag
    (``MSE``, ``mse-ex``), a file name with or without ``.ipynb``, or a
    chapter (``Chapter05``), compared exactly (case aside).  ``ValueError``
    names what matched nothing."""
    if not names:
        return list(COURSE)
    wanted = {name.lower().removesuffix(".ipynb") for name in names}
    keys = {n: {n.tag.lower(), n.title.lower(), n.chapter.lower()} for n in COURSE}
    unknown = sorted(w for w in wanted if not any(w in k for k in keys.values()))
    if unknown:
        raise ValueError(
            f"No notebook is called {', '.join(unknown)}. Use a tag ({', '.join(n.tag for n in COURSE)}), "
            "a file name or a chapter folder."
        )
    return [n for n in COURSE if keys[n] & wanted]
