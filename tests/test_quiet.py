"""``import tfbook_utils`` keeps TensorFlow's noise away, but not its errors."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

LECTURE_CODE = """
import tfbook_utils
import tensorflow.compat.v1 as tf
tf.disable_eager_execution()
x = tf.placeholder(tf.float32, [None, 784])
w = tf.Variable(tf.truncated_normal([784, 10], stddev=0.1))
keep_prob = tf.placeholder(tf.float32)
h = tf.nn.dropout(tf.matmul(x, w), keep_prob)
p = tf.nn.softmax(h)
t = tf.placeholder(tf.float32, [None, 10])
loss = -tf.reduce_sum(t * tf.log(p))
train_step = tf.train.AdamOptimizer().minimize(loss)
sess = tf.Session()
sess.run(tf.global_variables_initializer())
saver = tf.train.Saver()
print("done")
"""


SCRIPTS = {
    "lecture": LECTURE_CODE,
    "without tfbook_utils": LECTURE_CODE.replace("import tfbook_utils\n", ""),
    "an error": "import tfbook_utils\nimport tensorflow.compat.v1 as tf\n"
                "tf.disable_eager_execution()\ntf.Session().run(tf.placeholder(tf.float32))",
}


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def ran() -> dict[str, subprocess.CompletedProcess]:
    """Each script in a fresh Python, the three side by side (each spends its time importing TensorFlow)."""
    with ThreadPoolExecutor(len(SCRIPTS)) as pool:
        return dict(zip(SCRIPTS, pool.map(run, SCRIPTS.values())))


def test_lecture_style_code_prints_nothing_but_its_own_output(ran) -> None:
    done = ran["lecture"]
    assert done.returncode == 0
    assert done.stdout == "done\n"
    assert done.stderr == ""


def test_without_tfbook_utils_tensorflow_is_noisy(ran) -> None:
    """The check above can fail: the same code without the import is noisy."""
    assert ran["without tfbook_utils"].stderr != ""


def test_real_errors_still_show(ran) -> None:
    done = ran["an error"]
    assert done.returncode != 0
    assert "InvalidArgumentError" in done.stderr
