"""``tfbook.py bench``: a real run in quick mode, and the report's arithmetic."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import tensorflow.compat.v1 as tf

from course_tools.bench import controller, models, plan, profile
from course_tools.bench.report import render
from course_tools.catalog import REPO_ROOT
from tests import lecture_models


def table_row(report: str, first_cell: str, exact: bool = False) -> list[str]:
    """The cells of the markdown table row whose first cell starts with (or,
    ``exact``, is) ``first_cell``."""
    for line in report.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and (cells[0] == first_cell if exact else cells[0].startswith(first_cell)):
            return cells
    raise AssertionError(f"no table row starting with {first_cell!r} in:\n{report}")


def number(cell: str) -> float:
    return float(re.match(r"[-0-9.,]+", cell.replace("**", "")).group(0).replace(",", ""))


def trainable_shapes(cells: list[str]) -> list[list[int]]:
    with tf.Graph().as_default():
        namespace: dict = {"tf": tf}
        for cell in cells:
            exec(cell, namespace)
        return [v.shape.as_list() for v in tf.trainable_variables()]


def test_cnn_flops_are_counted_as_documented() -> None:
    flops = models.cnn_flops(50)
    macs = {"conv1": 627_200, "conv2": 10_035_200, "fc1": 3_211_264, "fc2": 10_240}
    assert flops["forward"] == 50 * 2 * sum(macs.values()) == 1_388_390_400
    # backward: weight gradients of all four layers, input gradients of all but conv1
    assert flops["backward"] == 50 * 2 * (sum(macs.values()) + macs["conv2"] + macs["fc1"] + macs["fc2"])
    assert flops["total"] == 4_102_451_200
    # the profile's parts count from the same table: conv2 backward is its input and filter gradients
    parts = models.part_flops(50)
    assert parts["conv2 backward (input + filter gradients)"] == 2 * 2 * 50 * macs["conv2"]
    assert parts["conv1 forward + filter gradient"] == 2 * 2 * 50 * macs["conv1"]
    # fc2's three products (forward, both gradients) fall among the profile's uncounted small ops
    assert sum(parts.values()) == flops["total"] - 3 * 2 * 50 * macs["fc2"]


def test_the_catalog_picks_each_models_keras_twin_and_the_cnn() -> None:
    """Every benchmarked notebook names an architecture the bench has a
    tf.keras twin for; exactly one is the two-layer CNN whose FLOPs are counted."""
    assert models.MODELS, "the catalog benchmarks no notebook"
    for model in models.MODELS.values():
        assert model.bench.architecture in models.KERAS_TWINS, model.tag
    counted = [m for m in models.MODELS.values() if models.training_flops(m) is not None]
    assert counted == [models.two_layer_cnn()]
    assert models.two_layer_cnn().ships, "the recognizer section restores the two-layer CNN's shipped checkpoint"


def test_keras_fit_calls_stay_within_one_epoch() -> None:
    """numpy input to fit runs out after one pass over the 55,000 images: longer rounds take several calls."""
    assert models.fit_calls(2000, 100) == [500, 500, 500, 500]  # 550 batches of 100 in an epoch
    assert models.fit_calls(1201, 100) == [401, 400, 400]
    assert models.fit_calls(200, 50) == [200]


@pytest.mark.parametrize("tag", list(models.MODELS))
def test_bench_builds_each_model_from_its_notebook(tag: str) -> None:
    """The bench finds the model's set-up cells in its notebook (for MDC and
    CNN the same variables as tests/lecture_models.py, which the checkpoint
    tests use), without the training loop."""
    model = models.MODELS[tag]
    found = models.notebook_cells(model)
    assert found is not None, f"{model.relative_path} has no [{tag}-01..]"
    cells, where = found
    assert where == f"{model.relative_path} [{tag}-01..{model.bench.loop_cell - 1:02d}]"
    assert "next_batch" not in "".join(cells), "the training loop must not be among the set-up cells"
    shapes = trainable_shapes(cells[2:-1])  # cells 01 set up, 02 load MNIST, the last opens the session
    assert shapes
    expected = {"one-layer CNN": lecture_models.mdc_graph,
                "two-layer CNN": lecture_models.cnn_graph}.get(model.bench.architecture)
    if expected is not None:
        with tf.Graph().as_default():
            expected()
            assert shapes == [v.shape.as_list() for v in tf.trainable_variables()]


def test_bench_says_which_notebook_lacks_the_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "notebook_cells", lambda model: None)
    cnn = models.MODELS["CNN"]
    with pytest.raises(RuntimeError, match=re.escape(f"{cnn.relative_path} lacks one of the cells [CNN-01..07]")):
        models.build_graph(cnn)


def fake_results(ratio_graph: float = 39.0, ratio_keras: float = 30.0) -> dict:
    train = {
        "model": "two-layer CNN (CNN)", "tag": "CNN", "batch": 50, "optimizer": "Adam(1e-4)", "steps_per_round": 200,
        "rounds": 3, "graph_steps_s": [ratio_graph] * 3, "keras_steps_s": [ratio_keras] * 3,
        "keras_whole_fit_steps_s": [ratio_keras * 0.9] * 3, "graph": ratio_graph, "keras": ratio_keras,
        "ratio": ratio_graph / ratio_keras, "graph_rss_mb": 980.0, "keras_rss_mb": 1480.0,
        "source": "chapters/Chapter05/CNN.ipynb [CNN-01..07]",
        "keras_jit_compile": False, "keras_run_eagerly": False, "keras_version": "3",
    }
    return {
        "machine": {"date": "today", "cpu": "CPU", "cores": 2, "tensorflow": "2.21.0", "numpy": "2", "python": "3"},
        "quick": False,
        "training": [train],
        "cnn_efficiency": {"flops_per_step": models.cnn_flops(50), "cnn_gflops": 160.0, "matmul_gflops": 200.0,
                           "matmul_rounds": [200.0], "cnn_rounds": [160.0], "ratio": 0.8},
        "load": {"first_s": 0.7, "second_s": 1.2, "next_batch_s": 3e-5, "next_batch_bytes": 158800,
                 "next_batch_shares_memory": False, "rss_import_kb": 570000,
                 "next_batch_calls": 2200, "next_batch_extra_bytes": 400000, "tf1_next_batch_s": 9e-5,
                 "tf1_next_batch_extra_bytes": 180000000, "rss_mb": 1000.0, "import_s": 3.0},
        "restore": [{"checkpoint": "mdc_session-4000", "shipped": False},
                    {"checkpoint": "cnn_session-20000", "shipped": True, "seconds": 0.05, "rss_mb": 900.0}],
        "recognizer": {"first": [0.033, 0.0032, 0.0376], "render_s": 0.0095, "preprocess_s": 0.002,
                       "predict_s": 0.0038, "image_to_probabilities_s": 0.0058,
                       "weights": "checkpoint cnn_session-20000", "rss_mb": 855.0},
        "eval": [{"tag": "CNN", "how": "as the notebook", "chunk": 2500, "seconds": 2.5, "first_s": 3.0,
                  "rss_mb": 1400.0, "evals": 40, "steps": 20000}],
        "errors": [],
    }


def test_report_rows_ratios_and_targets() -> None:
    report = render(fake_results())
    cnn = table_row(report, "two-layer CNN (CNN)")
    assert number(cnn[6]) == pytest.approx(number(cnn[4]) / number(cnn[5]), abs=0.005) == 1.3
    assert table_row(report, "CNN training ≥ 1.25x tf.keras")[2] == "yes"
    assert table_row(report, "CNN ≥ 75 % of the fp32 matmul rate")[1:] == ["80%", "yes"]
    assert table_row(report, "MNIST loads < 1 s warm")[1:] == ["1.20 s", "no"]
    assert table_row(report, "restore mdc_session-4000")[1] == "not shipped"
    assert table_row(report, "restore cnn_session-20000")[1] == "0.05 s"
    assert table_row(report, "recognizer: drawing → probabilities")[1:3] == ["5.8 ms", "855"]
    assert table_row(report, "recognizer: first call")[1] == "33.0 ms + 3.2 ms + 37.6 ms"
    assert table_row(report, "recognizer answers < 50 ms")[1:] == ["5.8 ms", "yes"]
    # the Keras note's example is the catalog's first model whose round needs several fit calls
    assert "runs out after one pass, so MSE's 2,000 steps are 4 calls of 500)" in report
    assert "FLOPs per training step (batch 50) | 4.102 GFLOP (forward 1.388 + backward 2.714)" in report

    unmeasured = fake_results()
    del unmeasured["recognizer"], unmeasured["load"]
    partial = render(unmeasured)
    assert "recognizer" not in partial and "MNIST loads" not in partial  # no row, no target without a measurement
    assert table_row(partial, "restore cnn_session-20000")[1] == "0.05 s"
    # share of the CNN run spent evaluating: 40 x 2.5 s against 20,000 steps at 39 steps/s
    assert table_row(report, "CNN", exact=True)[4] == f"{100 / (20000 / 39 + 100):.0%}"

    slower = render(fake_results(ratio_graph=33.0))
    assert table_row(slower, "CNN training ≥ 1.25x tf.keras")[1:] == ["1.10x", "no"]

    assert "machine was busy" not in report
    own_work = fake_results()  # the bench's own workers load the cores by the end: not a warning
    own_work["machine"]["load_average"], own_work["load_average_end"] = (0.3, 0.5, 1.0), (2.2, 2.0, 1.0)
    assert "machine was busy" not in render(own_work)
    busy = fake_results()
    busy["machine"]["load_average"], busy["load_average_end"] = (3.5, 2.0, 1.0), (1.2, 2.0, 1.0)
    assert "**The machine was busy** (1-minute load average 3.5 on" in render(busy)


def test_profile_shares_split_overlaps_and_add_up_to_the_step() -> None:
    shares = profile.shares({"conv": [(0, 10)], "adam": [(5, 15), (30, 40)], "other": []})
    assert shares == {"conv": 7.5, "adam": 17.5, "other": 0.0, models.IDLE: 15.0}
    assert sum(shares.values()) == 40  # first op's start to last op's end
    assert profile.busy_time([(5, 15), (0, 10), (30, 40)]) == 25  # overlapping ops count once


def test_unknown_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="Unknown bench names"):
        controller.run(["nonsense"], quick=True, out_dir=tmp_path)


def test_a_failing_worker_is_reported_not_hung(tmp_path: Path) -> None:
    worker = controller.Worker("bogus", {"kind": "bogus"}, tmp_path)
    with pytest.raises(controller.WorkerError, match="unknown worker kind 'bogus'"):
        controller.start_all([worker], timeout=120)
    worker.kill()


@pytest.fixture
def one_checkpoint(tmp_path: Path) -> Path:
    """A folder with an (untrained) mdc_session-4000 and no cnn_session-20000."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    with tf.Graph().as_default():
        lecture_models.mdc_graph()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver().save(sess, str(folder / "mdc_session"), global_step=4000)
    return folder


def test_quick_bench_measures_and_reports(tmp_path: Path, one_checkpoint: Path) -> None:
    out = tmp_path / "bench"
    results = controller.run(["CNN", "load", "profile", "restore", "recognizer", "drawings"], quick=True, out_dir=out,
                            checkpoint_dir=one_checkpoint)
    assert results["errors"] == []
    report = (out / "latest.md").read_text(encoding="utf-8")
    assert json.loads((out / "latest.json").read_text(encoding="utf-8"))["training"][0]["tag"] == "CNN"
    assert "QUICK" in report and "TensorFlow 2.21" in report and "cores" in report

    (train,) = results["training"]
    assert train["graph"] > 0 and train["keras"] > 0
    assert train["ratio"] == pytest.approx(train["graph"] / train["keras"])
    assert len(train["graph_steps_s"]) == len(train["keras_steps_s"]) == plan.ROUNDS
    cnn = table_row(report, "two-layer CNN (CNN)")
    assert cnn[1] == "50" and cnn[2] == "Adam(1e-4)"
    # the run's own numbers (a ratio of the rounded columns is off by several % at a loaded machine's 1-2 steps/s)
    assert cnn[4:7] == [f"{train['graph']:,.1f}", f"{train['keras']:,.1f}", f"{train['ratio']:.2f}"]
    assert all(number(c) > 200 for c in cnn[7:9]), "peak RSS of a TensorFlow process is hundreds of MB"

    eff = results["cnn_efficiency"]
    assert train["graph"] == max(train["graph_steps_s"]) and train["keras"] == max(train["keras_steps_s"])
    assert eff["cnn_gflops"] == pytest.approx(train["graph"] * 4.1024512, rel=1e-6)
    assert 0 < eff["ratio"] == pytest.approx(eff["cnn_gflops"] / eff["matmul_gflops"])
    assert number(table_row(report, "**CNN / matmul**")[1]) == pytest.approx(eff["ratio"], abs=0.006)

    traced = results["profile"]
    # means over the traced steps, so the shares (idle time included) account for all of the mean span
    assert sum(p["share_s"] for p in traced["parts"]) == pytest.approx(traced["span_s"], rel=1e-3)
    assert all(p["share_s"] <= p["seconds"] + 1e-9 for p in traced["parts"] if p["part"] != models.IDLE)
    assert traced["span_s"] <= traced["wall_s"]
    heavy = table_row(report, "conv2 backward (input + filter gradients)")
    assert number(heavy[2]) > 0 and number(heavy[3]) == pytest.approx(2.01, abs=0.01)

    load = results["load"]
    assert 0 < load["second_s"] and 0 < load["first_s"] < 60
    assert load["next_batch_bytes"] == 50 * (784 + 10) * 4 and not load["next_batch_shares_memory"]
    # the "before": TF 1.x copies the whole training set (55,000 x (784 + 10) float32) to shuffle it
    assert load["tf1_next_batch_extra_bytes"] >= 55000 * (784 + 10) * 4 > 100 * load["next_batch_extra_bytes"]
    assert table_row(report, "MNIST `read_data_sets`, again (warm)")[1].endswith(" s")

    assert number(table_row(report, "restore mdc_session-4000")[1]) > 0
    assert table_row(report, "restore cnn_session-20000")[1] == "not shipped"

    rec = results["recognizer"]
    assert rec["preprocess_s"] > 0 and rec["predict_s"] > 0 and rec["image_to_probabilities_s"] > 0
    assert rec["weights"].startswith("random (cnn_session-20000 not shipped")
    assert table_row(report, "recognizer answers < 50 ms")[2] in ("yes", "no")

    big = results["drawings"]["circle_4000"]
    assert 0 < big["best_s"] and big["outcome"] == "28x28 image"
    assert "### Large drawings in the handwriting recognizer" in report
    assert table_row(report, "4000x4000 drawing preprocessed < 0.5 s")[1] == f"{big['best_s']:.2f} s"


def test_readme_quotes_the_latest_bench_run() -> None:
    """The README's performance table is the committed latest.json's run: same date, same rows."""
    latest = json.loads((controller.BENCH_DIR / "latest.json").read_text(encoding="utf-8"))
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    performance = readme[readme.index("## Performance"):]
    machine = latest["machine"]
    assert f"{machine['date']}, {machine['cpu']}, {machine['cores']} cores" in performance
    assert not latest["quick"]
    for train in latest["training"]:
        row = table_row(performance, next(line.split("|")[1].strip() for line in performance.splitlines()
                                          if f"({train['tag']})" in line))
        assert row[2:] == [f"{train['graph']:,.1f}", f"{train['keras']:,.1f}", f"{train['ratio']:.2f}"]
    cnn = next(train for train in latest["training"] if train["tag"] == "CNN")
    assert f"| CNN training ≥ 1.25x tf.keras | {cnn['ratio']:.2f}x |" in performance
