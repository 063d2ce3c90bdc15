"""The 2017 notebooks' own code runs on TensorFlow 2.21 with only the README's changes.

The code cells of eight of the lecture's notebooks, as the students of 2017 had
them (``tests/fixtures/jupyter_tfbook_2017.json``, copied from
enakai00/jupyter_tfbook; its first lines say from which commit), get exactly
the changes that README.md lists under "What changed from the 2017 notebooks"
(``CHANGES`` below; a test checks that each of them stands in that table) and
run top to bottom in a Jupyter kernel, as a student's typed-in notebook would.
The only other differences are what a test run needs:

* loops are shortened (``course_tools.quick.shorten``) and report once, at
  their last step (each report evaluates the whole test set: for the CNNs
  that costs more than the shortened training), so MDR restores the step
  the shortened MDC saved instead of ``'mdc_session-4000'``;
* the lecture's ``/tmp/`` folders lie in a temporary folder;
* CIFAR-10 does not run the download and listing cells ([CDS-02], [CDS-03])
  and reads 80 records written in CIFAR-10's format where the download would be.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_tools import catalog
from course_tools.catalog import Notebook
from course_tools.quick import QUICK_STEPS, shorten
from course_tools.runner import NotebookRun
from course_tools.runs import run_in_child
from tfbook_utils import cifar10
from tfbook_utils.paths import REPO_ROOT

from .side_by_side import WORKERS, one_core_each

FIXTURE = Path(__file__).parent / "fixtures" / "jupyter_tfbook_2017.json"
SOURCES = json.loads(FIXTURE.read_text(encoding="utf-8"))["notebooks"]

# (the 2017 code, what replaces it): each one a row of README.md's table
CHANGES = [
    ("import tensorflow as tf", "import tfbook_utils\nimport tensorflow.compat.v1 as tf\ntf.disable_eager_execution()"),
    ("from tensorflow.examples.tutorials.mnist import input_data", "from tfbook_utils import input_data"),
    (".as_matrix()", ".values"),
    ("len(mnist.test.labels) / 4", "len(mnist.test.labels) // 4"),
    ("tf.scalar_summary(", "tf.summary.scalar("),
    ("tf.histogram_summary(", "tf.summary.histogram("),
    ("tf.merge_all_summaries()", "tf.summary.merge_all()"),
    ("tf.train.SummaryWriter(", "tf.summary.FileWriter("),
    ("import cPickle as pickle", "from tfbook_utils.orenist import load_orenist"),
    ("with open('ORENIST.data', 'rb') as file:\n    images, labels = pickle.load(file)",
     "images, labels = load_orenist()"),
    ("tf.image.per_image_whitening(", "tf.image.per_image_standardization("),
    ("tf.concat(0,float_images)", "tf.concat(float_images, 0)"),
]
PRINT_STATEMENT = re.compile(r"^(\s*)print (?!\()(.+)$", re.MULTILINE)  # Python 2's `print x` is `print(x)`

# Loop lengths: the quick length; the whole loop where it is cheap and a shorter one would not learn;
# half of it for the CNNs, which learn well above chance in 100 steps and dominate the test's time.
STEPS = {"MLE": 2000, "SNE": 1000, "MDC": 100, "CNN": 100}
MIN_ACCURACY = {"SNE": 0.85}  # where our catalog has no quick-run minimum for the notebook
SKIPPED = {"CDS-02", "CDS-03"}  # the 162 MB download (%%bash curl, tar) and its listing: not run
CIFAR_FILE = "cifar10_data/cifar-10-batches-bin/test_batch.bin"


def with_readme_changes(source: str) -> str:
    """A 2017 code cell with the README table's changes, and nothing else."""
    for old, new in CHANGES:
        source = source.replace(old, new)
    return PRINT_STATEMENT.sub(r"\1print(\2)", source)


def test_every_change_the_test_makes_stands_in_the_readme_table() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What changed from the 2017 notebooks", 1)[1].split("\n## ", 1)[0]
    table = re.sub(r"\s+", "", section)
    for old, new in CHANGES:
        for line in (old + "\n" + new).splitlines():
            assert re.sub(r"\s+", "", line) in table, f"README's table lacks {line!r}"
    assert "`printx`" in table and "`print(x)`" in table


def notebook_2017(tag: str, tmp: Path, mdc_steps: int) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    for cell in SOURCES[tag]["cells"]:
        source = shorten(with_readme_changes(cell["source"]), STEPS.get(tag, QUICK_STEPS), reports=1)
        if cell["tag"] in SKIPPED:
            source = f"# [{cell['tag']}] is not run by the test (it needs the internet)"
        source = source.replace("/tmp/", f"{tmp}/").replace("'mdc_session-4000'", f"'mdc_session-{mdc_steps}'")
        nb.cells += [nbformat.v4.new_markdown_cell(f"**[{cell['tag']}]**"), nbformat.v4.new_code_cell(source)]
    return nb


@pytest.fixture(scope="module")
def runs(repo_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, NotebookRun]:
    """Every notebook of the fixture, run in a child process as ``tfbook.py lecture`` runs them,
    two at a time (``side_by_side.py``); MDR after MDC in one folder."""
    folder = repo_copy / "chapters" / "lecture-2017"
    folder.mkdir()
    out = tmp_path_factory.mktemp("executed-2017")
    tmp = tmp_path_factory.mktemp("slash-tmp")  # the lecture's /tmp/
    records = tmp / CIFAR_FILE
    records.parent.mkdir(parents=True)
    rng = np.random.default_rng(0)
    labels = np.tile(np.arange(10), 8)  # mixed like CIFAR-10's: [CDS-06] reads until it has seen all ten
    cifar10.write_records(records, labels, rng.integers(0, 256, (80, 32, 32, 3), dtype=np.uint8))
    for tag in SOURCES:
        nbformat.write(notebook_2017(tag, tmp, STEPS["MDC"]), folder / f"{tag}.ipynb")

    def run_in_order(tags: list[str]) -> dict[str, NotebookRun]:
        entries = [Notebook("lecture-2017", tag, tag, "lecture", "", repeated_tags=("CDS-04",)) for tag in tags]
        return {e.tag: run_in_child(e, repo_copy, out, quick=False, timeout=300) for e in entries}

    with one_core_each(), ThreadPoolExecutor(max_workers=WORKERS) as pool:
        groups = pool.map(run_in_order, [["CNN"], ["MDC", "MDR"], ["MST", "MSE"], ["MLE", "SNE", "CDS"]])
        done = {tag: run for group in groups for tag, run in group.items()}
    assert sorted(done) == sorted(SOURCES)
    assert not (tmp / "data").exists(), "read_data_sets wrote into the slides' folder"
    return done


@pytest.mark.notebook
@pytest.mark.parametrize("tag", list(SOURCES))
def test_the_2017_code_runs_and_learns(runs: dict[str, NotebookRun], tag: str) -> None:
    run = runs[tag]
    assert run.error == ""
    problems = run.problems
    if tag == "CDS":  # TF 2.21's one line for tf.transpose on uint8 on CPUs without AVX-512: the code still runs
        problems = [p for p in problems if "oneDNN supports DT_UINT8 only on platforms with AVX-512" not in p]
    assert problems == []
    minimum = MIN_ACCURACY.get(tag, catalog.by_tag(tag).min_quick_accuracy)  # well above chance
    if minimum is not None:
        accuracy = float(re.search(r"accuracy ([0-9.]+)", run.result).group(1))
        assert accuracy >= minimum, run.result
    images = sum("image/png" in o.get("data", {}) for c in run.executed.cells for o in c.get("outputs", []))
    assert images >= {"MDR": 3, "CDS": 2, "MSE": 1}.get(tag, 0)


def test_mdr_restores_a_students_own_mdc_checkpoint_with_the_slides_saver(runs) -> None:
    """MDR-06 as printed: saver = tf.train.Saver(); saver.restore(sess, 'mdc_session-...')."""
    restore_cell = next(c for c in runs["MDR"].executed.cells if "saver.restore" in c.source)
    assert "saver = tf.train.Saver()" in restore_cell.source
    assert [o for o in restore_cell.outputs if o.output_type == "error"] == []
    assert any(f"mdc_session-{STEPS['MDC']}.index" in o.get("text", "")
               for c in runs["MDC"].executed.cells for o in c.get("outputs", []))
