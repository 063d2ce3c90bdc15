"""The bench's report: ``latest.md``, rendered from ``latest.json``'s results.

One function per section, each returning its lines (none when the section
was not measured), so a partial bench (``tfbook.py bench CNN load``) gives a
partial report.  Rendering only formats: every number comes from the
results, the FLOP rules from ``models``, the rounds from ``plan``.
"""

from __future__ import annotations

from . import drawings, models
from .models import IDLE, MATMUL_N, MODELS
from .plan import ROUNDS


def _f(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.1f} ms"


def _mb(kb: int | None) -> float | None:
    return None if kb is None else kb / 1024.0


def _busy_warning(info: dict) -> list[str]:
    """A warning when other work competed for the cores as the run began.

    Only the load average at the start counts: at the end it includes the
    bench's own workers, which keep both cores busy by design."""
    start = info.get("load_average", ())[:1]
    cores = info.get("cores") or 1
    if not start or start[0] <= 0.5 * cores:
        return []
    return [
        f"**The machine was busy** (1-minute load average {start[0]:.1f} on {cores} cores when the bench started): "
        "other processes competed for the cores, so absolute numbers are low and noisy. "
        "The interleaved ratios suffer less, but contention hurts some workloads (a 2-thread matmul, page "
        "faults) more than others: judge the targets on a run without this warning.",
        "",
    ]


def header(results: dict) -> list[str]:
    info = results["machine"]
    return [
        "# tfbook bench" + (" (QUICK: a few steps only, numbers are not meaningful)" if results["quick"] else ""),
        "",
        f"{info['date']}; {info['cpu']}, {info['cores']} cores; TensorFlow {info['tensorflow']}, "
        f"numpy {info['numpy']}, Python {info['python']}; load average at start "
        f"{', '.join(f'{x:.1f}' for x in info.get('load_average', ()))}, at end "
        f"{', '.join(f'{x:.1f}' for x in results.get('load_average_end', ()))}.",
        "",
        *_busy_warning(info),
        "Every measurement runs in its own process (peak RSS is that process's, TensorFlow's import included). "
        f"Throughputs are the best of {ROUNDS} rounds in which the processes compared take turns "
        "(graph, Keras, graph, Keras, ...): as `timeit` advises, slower rounds measure the other work on the "
        "machine, not the code (every round is listed).",
    ]


def _fit_example() -> str:
    """', so MSE's 2,000 steps are 4 calls of 500': the first model whose
    full-bench round needs several ``fit`` calls, as ``models.fit_calls`` splits it."""
    for model in MODELS.values():
        calls = models.fit_calls(model.bench.round_steps, model.bench.batch)
        if len(calls) > 1:
            return f", so {model.tag}'s {model.bench.round_steps:,} steps are {len(calls)} calls of {calls[0]:,}"
    return ""


def training(results: dict) -> list[str]:
    rows = results.get("training")
    if not rows:
        return []
    keras_info = rows[0]
    lines = [
        "",
        "## Training throughput: the notebooks' graph mode vs tf.keras `model.fit`",
        "",
        "| model | batch | optimizer | steps per round | graph steps/s | keras steps/s | graph/keras "
        "| graph peak RSS MB | keras peak RSS MB |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['batch']} | {r['optimizer']} | {r['steps_per_round']} | {_f(r['graph'])} "
            f"| {_f(r['keras'])} | {r['ratio']:.2f} | {_f(r['graph_rss_mb'], 0)} | {_f(r['keras_rss_mb'], 0)} |"
        )
    lines += [""]
    for r in rows:
        lines.append(
            f"- {r['tag']}: graph rounds {', '.join(_f(v) for v in r['graph_steps_s'])}; keras rounds "
            f"{', '.join(_f(v) for v in r['keras_steps_s'])} (whole `fit` call incl. its set-up: "
            f"{', '.join(_f(v) for v in r['keras_whole_fit_steps_s'])}); model code: {r['source']}."
        )
    return lines + [
        "",
        "Graph mode: `sess.run(train_step, feed_dict={x: batch_xs, t: batch_ts[, keep_prob: 0.5]})` after "
        "`mnist.train.next_batch(batch)`, exactly the notebooks' loop without its reporting. Keras "
        f"{keras_info['keras_version']}: the same layers, initialisers, summed cross-entropy and Adam, "
        "`fit(images, labels, batch_size, steps_per_epoch=N, shuffle=True)` on the same arrays (N at most one "
        f"epoch per call: numpy input runs out after one pass{_fit_example()}), "
        f"defaults (jit_compile={keras_info['keras_jit_compile']}: Keras 3 turns XLA off on CPU-only "
        f"machines; run_eagerly={keras_info['keras_run_eagerly']}: a tf.function), warmed up first; "
        "keras steps/s is the steady state inside `fit` (end of batch 1 to end of batch N); the whole calls, "
        "with `fit`'s set-up of its data pipeline (about a second per call here), are listed above.",
    ]


def efficiency(results: dict) -> list[str]:
    eff = results.get("cnn_efficiency")
    if not eff:
        return []
    fl = eff["flops_per_step"]
    return [
        "",
        "## Two-layer CNN: achieved GFLOP/s vs this machine's fp32 matmul",
        "",
        "| quantity | value |",
        "|---|---:|",
        f"| FLOPs per training step (batch {models.two_layer_cnn().bench.batch}) | {fl['total'] / 1e9:.3f} GFLOP "
        f"(forward {fl['forward'] / 1e9:.3f} + backward {fl['backward'] / 1e9:.3f}) |",
        f"| CNN training, graph mode | {eff['cnn_gflops']:.1f} GFLOP/s |",
        f"| fp32 matmul {MATMUL_N}x{MATMUL_N} (TF graph mode, same rounds) | {eff['matmul_gflops']:.1f} GFLOP/s |",
        f"| **CNN / matmul** | **{eff['ratio']:.2f}** |",
        "",
        f"{models.CNN_FLOP_RULES} Rounds: CNN {', '.join(_f(v) for v in eff['cnn_rounds'])}; matmul "
        f"{', '.join(_f(v) for v in eff['matmul_rounds'])} GFLOP/s.",
    ]


def profile(results: dict) -> list[str]:
    prof = results.get("profile")
    if not prof:
        return []
    lines = [
        "",
        "## Where the two-layer CNN's training step goes (traced steps, RunMetadata)",
        "",
        "| part of the step | share of the step ms | busy ms | GFLOP | GFLOP/s while busy |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in prof["parts"]:
        rate = f"{r['flops'] / r['seconds'] / 1e9:.0f}" if r["flops"] and r["seconds"] else "-"
        gflop = f"{r['flops'] / 1e9:.2f}" if r["flops"] else "-"
        busy = f"{r['seconds'] * 1000:.1f}" if r["part"] != IDLE else "-"
        lines.append(f"| {r['part']} | {r['share_s'] * 1000:.1f} | {busy} | {gflop} | {rate} |")
    return lines + [
        "",
        f"Means over {prof.get('steps', 'the')} traced steps: a step took {prof['span_s'] * 1000:.1f} ms from its "
        f"first op's start to its last op's end ({prof['wall_s'] * 1000:.1f} ms as `sess.run` saw it). "
        "TensorFlow runs "
        "independent ops side by side: 'busy' is the union of a part's op intervals (parts overlap, so these "
        "add up to more than the step), 'share' splits every moment equally among the parts running then "
        "(these add up to the step). An op's interval includes waiting for the thread pool. Tracing slows "
        "the step a little.",
    ]


def settings(results: dict) -> list[str]:
    rows = results.get("settings")
    if not rows:
        return []
    lines = [
        "",
        "## Two-layer CNN (graph mode) under TensorFlow settings (environment variables set before import)",
        "",
        "| setting | steps/s | vs default | peak RSS MB |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['setting']} | {_f(r['steps_s'])} | {r['vs_default']:.2f} | {_f(r['rss_mb'], 0)} |")
    return lines + [
        "",
        f"{len(rows[0]['rounds'])} rounds of {results['settings_steps']} steps, the variants taking turns; "
        "steps/s is the best round, 'vs default' its ratio to the default's best round. Rounds: "
        + "; ".join(f"{r['setting'].split(' (')[0]}: {', '.join(_f(v) for v in r['rounds'])}" for r in rows)
        + ".",
    ]


def _load_rows(load: dict) -> list[str]:
    return [
        f"| MNIST `read_data_sets`, first call in a fresh process | {load['first_s']:.2f} s | "
        f"{_f(load['rss_mb'], 0)} | after `import tfbook_utils` ({_f(load.get('import_s'), 1)} s, "
        f"RSS {_f(_mb(load['rss_import_kb']), 0)} MB) |",
        f"| MNIST `read_data_sets`, again (warm) | {load['second_s']:.2f} s | | same process, median of "
        "3 calls |",
        f"| `mnist.train.next_batch(50)` | {load['next_batch_s'] * 1e6:.0f} µs | | copies "
        f"{load['next_batch_bytes'] / 1024:.0f} KiB (the batch's rows only; shares memory with the "
        f"data set: {'yes' if load['next_batch_shares_memory'] else 'no'}); at most "
        f"{load['next_batch_extra_bytes'] / 2**20:.1f} MB allocated at once; mean of "
        f"{load['next_batch_calls']:,} calls |",
        f"| the same with TF 1.x's `next_batch` algorithm (before) | {load['tf1_next_batch_s'] * 1e6:.0f} µs | "
        f"| a shuffled copy of all 55,000 images at every epoch's start: at most "
        f"{load['tf1_next_batch_extra_bytes'] / 2**20:.1f} MB allocated at once; same calls |",
    ]


def _restore_row(r: dict) -> str:
    if not r["shipped"]:
        return f"| restore {r['checkpoint']} | not shipped | | |"
    return (f"| restore {r['checkpoint']} | {r['seconds']:.2f} s | {_f(r['rss_mb'], 0)} | "
            "`checkpoints.restore` into a freshly built graph |")


def _recognizer_rows(rec: dict) -> list[str]:
    return [
        f"| recognizer: drawing → probabilities (`preprocess` + `predict`) | "
        f"{_ms(rec['image_to_probabilities_s'])} | {_f(rec['rss_mb'], 0)} | median; preprocess "
        f"{_ms(rec['preprocess_s'])}, predict {_ms(rec['predict_s'])}; weights: {rec['weights']} |",
        f"| recognizer: strokes → 280x280 drawing (`canvas.render`) | {_ms(rec['render_s'])} | | median |",
        f"| recognizer: first call (render, preprocess, predict) | "
        f"{' + '.join(_ms(v) for v in rec['first'])} | | a fresh session's first run |",
    ]


def loading(results: dict) -> list[str]:
    """MNIST load, checkpoint restores and the recognizer: one table."""
    rows = _load_rows(results["load"]) if results.get("load") else []
    rows += [_restore_row(r) for r in results.get("restore", [])]
    if results.get("recognizer"):
        rows += _recognizer_rows(results["recognizer"])
    if not rows:
        return []
    return ["", "## Loading, restoring, recognising", "", "| measurement | time | peak RSS MB | note |",
            "|---|---:|---:|---|", *rows]


def evaluations(results: dict) -> list[str]:
    rows = results.get("eval")
    if not rows:
        return []
    rate = {r["tag"]: r["graph"] for r in results.get("training", [])}
    lines = [
        "",
        "## The notebooks' test-set evaluations (loss and accuracy on 10,000 images)",
        "",
        f"| model | evaluated | seconds per evaluation (best of {ROUNDS}) | evaluations per run "
        "| share of the run's time | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        share = "-"
        if r["tag"] in rate:
            train = r["steps"] / rate[r["tag"]]
            share = f"{r['evals'] * r['seconds'] / (train + r['evals'] * r['seconds']):.0%}"
        how = r["how"] + (f" (chunks of {r['chunk']})" if r["how"] == "as the notebook" and r["chunk"] else
                          " (all at once)" if r["how"] == "as the notebook" else "")
        lines.append(f"| {r['tag']} | {how} | {r['seconds']:.2f} | {r['evals']} | {share} | "
                     f"{_f(r['rss_mb'], 0)} |")
    return [*lines, "",
            "Share: evaluations x seconds / (training steps / graph steps/s above + evaluations x seconds)."]


def targets(results: dict) -> list[str]:
    """The issue's performance targets, each with what this run measured."""

    def row(target: str, measured: str, holds: bool) -> str:
        return f"| {target} | {measured} | {'yes' if holds else 'no'} |"

    rows = []
    cnn_tag = models.two_layer_cnn().tag
    cnn = next((r for r in results.get("training", []) if r["tag"] == cnn_tag), None)
    if cnn:
        rows.append(row("CNN training ≥ 1.25x tf.keras", f"{cnn['ratio']:.2f}x", cnn["ratio"] >= 1.25))
    eff = results.get("cnn_efficiency")
    if eff:
        rows.append(row("CNN ≥ 75 % of the fp32 matmul rate", f"{eff['ratio']:.0%}", eff["ratio"] >= 0.75))
    load = results.get("load")
    if load:
        rows.append(row("MNIST loads < 1 s warm", f"{load['second_s']:.2f} s", load["second_s"] < 1))
    rec = results.get("recognizer")
    if rec:
        total = rec["image_to_probabilities_s"]
        rows.append(row("recognizer answers < 50 ms", _ms(total), total < 0.05))
    big = results.get("drawings", {})
    for name, target in (("circle_4000", "4000x4000 drawing preprocessed < 0.5 s"),
                         ("stroke_update", "live update with a 100,000-point stroke < 0.5 s")):
        if name in big:
            seconds = big[name]["best_s"]
            rows.append(row(target, f"{seconds:.2f} s", seconds < drawings.TARGET_S))
    if not rows:
        return []
    return ["", "## Targets", "", "| target | measured | holds |", "|---|---:|---|", *rows]


def large_drawings(results: dict) -> list[str]:
    if "drawings" not in results:
        return []
    return ["", *drawings.report_lines(results["drawings"])]


def failures(results: dict) -> list[str]:
    if not results.get("errors"):
        return []
    return ["", "## Failed measurements", "", *[f"- {e}" for e in results["errors"]]]


SECTIONS = (header, training, efficiency, profile, settings, loading, large_drawings, evaluations, targets,
            failures)


def render(results: dict) -> str:
    """The whole report, section after section."""
    return "\n".join(line for section in SECTIONS for line in section(results)) + "\n"
