"""The commands behind ``python3 tfbook.py ...`` (run inside .venv)."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .paths import CHECKPOINT_DIR, REPO_ROOT

BUILD = REPO_ROOT / "build"
SHIPPED = {
    # checkpoint prefix -> (chapter folder, notebook that saves it)
    "mdc_session-4000": ("Chapter04", "MNIST dynamic filter classification.ipynb"),
    "cnn_session-20000": ("Chapter05", "MNIST double layer CNN classification.ipynb"),
    "bnc_session-10000": ("Chapter06", "MNIST batch normalization CNN.ipynb"),
}
# shipped with their .meta graph file: the recognizer rebuilds these networks from it
SHIPPED_WITH_GRAPH = {"bnc_session-10000"}


def run_lecture(names: list[str], quick: bool, out: Path) -> list:
    """Execute the notebooks in a fresh copy of the repository under ``out``."""
    import nbformat

    from . import lecture

    picked = lecture.notebooks(names)
    # keep the results of notebooks not re-run this time (README's contents table)
    results_file = out / "results.json"
    earlier = json.loads(results_file.read_text(encoding="utf-8")) if results_file.is_file() else []
    if out.exists():
        shutil.rmtree(out)
    repo = lecture.copy_repository(out / "repo")
    executed_dir = out / "executed"
    runs = []
    for notebook in picked:
        relative = notebook.relative_to(REPO_ROOT)
        print(f"running {relative} ...", flush=True)
        run = lecture.execute(repo / relative, repo, quick=quick)
        run.notebook = notebook
        target = executed_dir / notebook.relative_to(lecture.CHAPTERS)
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(run.executed, target)
        status = "ok" if not run.error and not run.problems else "PROBLEM"
        print(f"  {run.seconds:7.1f} s  {run.result or '-'}  {status}", flush=True)
        for problem in ([run.error] if run.error else []) + run.problems:
            print(f"    {problem}", flush=True)
        runs.append(run)
    report = lecture.table(runs, quick)
    (out / "results.md").write_text(report + "\n", encoding="utf-8")
    this_run = {r.notebook.name for r in runs}
    (out / "results.json").write_text(
        json.dumps(
            [e for e in earlier if e["notebook"] not in this_run] + [
                {
                    "notebook": r.notebook.name,
                    "result": r.result,
                    "seconds": round(r.seconds, 1),
                    "ok": not (r.error or r.problems),
                }
                for r in runs
            ],
            indent=1,
        ),
        encoding="utf-8",
    )
    print()
    print(report)
    print(f"\nExecuted copies: {out.relative_to(REPO_ROOT)}/executed/", flush=True)
    return runs


def cmd_lecture(args: argparse.Namespace) -> int:
    out = BUILD / ("lecture-quick" if args.quick else "lecture")
    runs = run_lecture(args.names, args.quick, out)
    return 0 if all(not r.error and not r.problems for r in runs) else 1


def cmd_refresh(args: argparse.Namespace) -> int:
    """Full-length run, then write the executed notebooks back into chapters/."""
    import nbformat

    from . import colab, lecture

    for notebook in lecture.notebooks(args.names):
        nb = nbformat.read(notebook, as_version=4)
        if colab.ensure_setup_cell(nb, notebook.parent.name):
            nbformat.write(nb, notebook)
            print(f"updated the Colab setup cell of {notebook.relative_to(REPO_ROOT)}")
    runs = run_lecture(args.names, quick=False, out=BUILD / "lecture")
    failed = 0
    for run in runs:
        if run.error or run.problems:
            print(f"NOT refreshed (fix it first): {run.notebook.name}")
            failed += 1
            continue
        nbformat.write(lecture.strip_for_commit(run.executed), run.notebook)
        print(f"refreshed {run.notebook.relative_to(REPO_ROOT)}")
    return 1 if failed else 0


def cmd_ship_checkpoints(args: argparse.Namespace) -> int:
    """Copy checkpoints of the last full run into checkpoints/ and update the
    manifest (all of SHIPPED, or the prefixes named; other entries are kept)."""
    import tensorflow as tf

    from .checkpoints import MANIFEST
    from .paths import file_digest

    wanted = args.names or list(SHIPPED)
    unknown = [name for name in wanted if name not in SHIPPED]
    if unknown:
        print(f"Not shipped checkpoints: {unknown}. Known: {list(SHIPPED)}")
        return 1
    run_dir = BUILD / "lecture"
    results = {r["notebook"]: r for r in json.loads((run_dir / "results.json").read_text())}
    kept = json.loads(MANIFEST.read_text(encoding="utf-8"))["checkpoints"] if MANIFEST.is_file() else []
    entries = [e for e in kept if e["file"].split(".")[0] not in wanted]
    for prefix in wanted:
        chapter, notebook = SHIPPED[prefix]
        source = run_dir / "repo" / "chapters" / chapter
        result = results.get(notebook, {"ok": False})
        accuracy = re.search(r"accuracy ([0-9.]+)", result.get("result", ""))
        if not result["ok"] or accuracy is None or not (source / f"{prefix}.index").is_file():
            print(f"{prefix}: no clean full run in {run_dir.relative_to(REPO_ROOT)}; run `tfbook.py refresh` first")
            return 1
        # .index and .data; the .meta graph file only where the recognizer rebuilds the network from it
        for part in sorted(source.glob(prefix + ".*")):
            if part.suffix == ".meta" and prefix not in SHIPPED_WITH_GRAPH:
                continue
            shutil.copy2(part, CHECKPOINT_DIR / part.name)
            entries.append(
                {
                    "file": part.name,
                    "sha256": file_digest(part),
                    "notebook": f"chapters/{chapter}/{notebook}",
                    "steps": int(prefix.rsplit("-", 1)[1]),
                    "test_accuracy": float(accuracy.group(1)),
                    "tensorflow": tf.__version__,
                }
            )
    manifest = {"checkpoints": entries}
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(manifest, indent=2))
    return 0


# What each lecture notebook shows, and the result the 2017 lecture printed (SPEC.md).
CONTENTS = {
    "Least squares example": ("Degree-4 polynomial fit of monthly temperatures (Adam)", "loss 21.43 → about 17–20"),
    "Maximum likelihood estimation example": ("Logistic regression on 2-D points, decision boundary", "accuracy 0.943"),
    "Comparing accuracy for training and test sets": ("Training vs test accuracy curves", "curves"),
    "MNIST dataset sample": ("What MNIST images and one-hot labels look like", "-"),
    "MNIST softmax estimation": ("Softmax (linear multi-class) classifier on MNIST", "accuracy ≈ 0.92"),
    "Single layer network example": ("2 hidden tanh units on 2-D data", "accuracy 0.954"),
    "Double layer network example": ("Two hidden layers on XOR-like data", "accuracy 0.89"),
    "MNIST single layer network": ("1,024 relu units on MNIST", "accuracy 0.9706"),
    "MNIST single layer network with TensorBoard": ("The same network with TensorBoard logs", "accuracy 0.9708"),
    "ORENIST filter example": ("Hand-made edge filters and pooling on ORENIST", "-"),
    "ORENIST classification example": ("Classifying ORENIST with fixed edge filters", "accuracy 1.0"),
    "ORENIST dynamic filter example": ("Filters that learn themselves (ORENIST)", "accuracy 1.0"),
    "MNIST dynamic filter classification": ("One learned convolution layer; saves checkpoints", "accuracy 0.9804"),
    "MNIST dynamic filter classification with TensorBoard": ("The same CNN with TensorBoard logs", "accuracy 0.983"),
    "MNIST dynamic filter result": ("Learned filters, feature maps, misclassified digits", "-"),
    "MNIST double layer CNN classification": ("Two convolution layers, dropout: about 99 %", "accuracy 0.9918"),
    "Handwriting recognizer": ("Draw a digit with the mouse; the CNN reads it", "-"),
    "CIFAR-10 dataset samples": ("CIFAR-10 records with tf.data, image distortions", "-"),
    "MNIST softmax estimation exercise": ("Exercise, slide 65: Adam vs GradientDescent at three rates", "-"),
    "MNIST single layer network exercise": ("Exercise, slide 79: 128 / 512 / 1,024 / 4,096 hidden units", "-"),
    "Playground": ("Exercise, slides 49 and 79: the Playground web page, in the notebook", "-"),
    "MNIST dynamic filter classification exercise": ("Exercise, slide 108: 4 / 16 / 32 filters", "-"),
    "Vanishing gradients": ("Beyond the lecture: a deep MLP with sigmoid vs ReLU, per-layer gradients", "-"),
    "Optimizer comparison": ("Beyond the lecture: SGD, Momentum, AdaGrad, RMSProp, Adam on one model", "-"),
    "Overfitting and regularization": ("Beyond the lecture: 300 images, 6x100 MLP; L2, L1, dropout, early stopping",
                                       "-"),
    "MNIST batch normalization CNN": ("Beyond the lecture: batch normalization by hand, learning-rate decay",
                                      "-"),
    "Graph mode and tf.keras": ("Beyond the lecture: the same models in graph mode and in tf.keras", "-"),
}
TOC_BEGIN = "<!-- contents: generated by `python3 tfbook.py toc` -->"
TOC_END = "<!-- end of contents -->"


def contents_table() -> str:
    """The README's table of contents, with the last full run's results."""
    from . import colab, lecture

    results_file = BUILD / "lecture" / "results.json"
    results = {}
    if results_file.is_file():
        results = {r["notebook"]: r for r in json.loads(results_file.read_text(encoding="utf-8"))}
    lines = [
        "| chapter | notebook | what it shows | 2-core CPU, full run | lecture (2017) | ours (TF 2.21) | |",
        "|---|---|---|---:|---|---|---|",
    ]
    for notebook in lecture.notebooks():
        what, theirs = CONTENTS.get(notebook.stem, ("", "-"))
        ours = results.get(notebook.name, {})
        seconds = f"{ours['seconds'] / 60:.1f} min" if ours else "-"
        relative = notebook.relative_to(REPO_ROOT).as_posix()
        link = f"[{notebook.stem}]({relative.replace(' ', '%20')})"
        badge = (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
                 f"({colab.colab_url(relative)})")
        lines.append(f"| {notebook.parent.name} | {link} | {what} | {seconds} | {theirs} | "
                     f"{ours.get('result') or '-'} | {badge} |")
    timed = [(n.parent.name, results[n.name]["seconds"]) for n in lecture.notebooks() if n.name in results]
    lecture_part = sum(sec for chapter, sec in timed if chapter != "Chapter06")
    beyond = sum(sec for chapter, sec in timed if chapter == "Chapter06")
    lines += ["", f"Full-run times added up: Chapter01–05 (the lecture and its exercises) {lecture_part:,.0f} s "
              f"(about {lecture_part / 60:.0f} minutes); Chapter06 {beyond:,.0f} s; all "
              f"{lecture_part + beyond:,.0f} s (about {(lecture_part + beyond) / 60:.0f} minutes)."]
    return "\n".join(lines)


def cmd_toc(args: argparse.Namespace) -> int:
    """Rewrite the table of contents in README.md between its markers."""
    readme = REPO_ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    head, _, rest = text.partition(TOC_BEGIN)
    _, _, tail = rest.partition(TOC_END)
    readme.write_text(f"{head}{TOC_BEGIN}\n{contents_table()}\n{TOC_END}{tail}", encoding="utf-8")
    print("README.md contents updated")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    return subprocess.run([sys.executable, "-m", "pytest", *args.pytest_args], cwd=REPO_ROOT).returncode


def cmd_lab(args: argparse.Namespace) -> int:
    return subprocess.run(
        [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={REPO_ROOT / 'chapters'}"], cwd=REPO_ROOT
    ).returncode


def cmd_bench(args: argparse.Namespace) -> int:
    from benchmarks import bench

    return bench.main(args.names)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tfbook.py")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("lecture", help="run the lecture headless and print the results table")
    p.add_argument("--quick", action="store_true", help="shortened loops, a few minutes in all")
    p.add_argument("names", nargs="*")
    p.set_defaults(func=cmd_lecture)
    p = sub.add_parser("refresh", help="maintainers: re-run notebooks (full) and commit their outputs")
    p.add_argument("names", nargs="*")
    p.set_defaults(func=cmd_refresh)
    p = sub.add_parser("ship-checkpoints", help="maintainers: copy the last full run's checkpoints")
    p.add_argument("names", nargs="*", help="checkpoint prefixes (default: all shipped ones)")
    p.set_defaults(func=cmd_ship_checkpoints)
    p = sub.add_parser("toc", help="maintainers: rewrite README's table of contents from the last full run")
    p.set_defaults(func=cmd_toc)
    p = sub.add_parser("test", help="run the test suite")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_test)
    p = sub.add_parser("lab", help="open JupyterLab on chapters/")
    p.set_defaults(func=cmd_lab)
    p = sub.add_parser("bench", help="measure training speed and latencies")
    p.add_argument("names", nargs="*")
    p.set_defaults(func=cmd_bench)
    args = parser.parse_args(argv)
    return args.func(args)
