"""The controlling side of the bench: start the workers, make them take
turns, collect their answers section by section, write the report.

Processes compared with each other (graph mode and Keras, the settings'
variants, ...) run side by side and take turns, A, B, A, B, ..., so that a
machine shared with other work slows them alike; the best round counts.
One failed measurement is reported under "Failed measurements" and the
others still run.  A quick bench (``--quick``: a check that every part
works, its numbers mean nothing) runs its one-process sections two at a
time; each of them spends most of its few seconds importing TensorFlow on
one core.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ..catalog import REPO_ROOT, Notebook, shipping
from . import models, plan
from .models import MODELS
from .report import render
from .workers import PREFIX

CHECKPOINT_DIR = REPO_ROOT / "checkpoints"
BENCH_DIR = REPO_ROOT / "benchmarks"
QUICK_DIR = REPO_ROOT / "build" / "bench-quick"
SECTIONS = ("load", "profile", "settings", "eval", "restore", "recognizer", "drawings")

WORKER_CODE = (
    "import time; _t0 = time.perf_counter()\n"
    "import sys, json, tfbook_utils\n"
    "from course_tools.bench.workers import main\n"
    "main(json.loads(sys.argv[1]), _t0)\n"
)


class WorkerError(RuntimeError):
    """A worker failed, exited or fell silent; the message names its log."""


class Worker:
    """A measuring process: started with a spec, then driven one command at a
    time over stdin / stdout so that several of them can take turns."""

    def __init__(self, name: str, spec: dict, log_dir: Path, env: dict | None = None, cwd: Path | None = None):
        self.name = name
        log_dir.mkdir(parents=True, exist_ok=True)  # again: build/ may be cleaned while the bench runs
        self.log_path = log_dir / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".log")
        self.log = open(self.log_path, "wb")  # noqa: SIM115  (closed in kill)
        full_env = dict(os.environ)
        full_env.update({"TF_CPP_MIN_LOG_LEVEL": "2", "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"})
        # the worker imports course_tools.bench from the repository, whatever its cwd
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER_CODE, json.dumps(spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
            cwd=str(cwd or REPO_ROOT), env=full_env,
        )
        self._buffer = b""
        self.ready: dict = {}
        self.results: list[dict] = []
        self.final: dict = {}

    def receive(self, timeout: float) -> dict:
        """The worker's next protocol message; ``WorkerError`` if it reports
        an error, exits or says nothing for ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                text = line.decode(errors="replace")
                if text.startswith(PREFIX):
                    message = json.loads(text[len(PREFIX):])
                    if "error" in message:
                        raise WorkerError(f"{self.name}: {message['error']} (log: {self.log_path})")
                    return message
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise WorkerError(f"{self.name}: no answer in {timeout:.0f} s (log: {self.log_path})")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    self.proc.wait()
                    try:
                        tail = self.log_path.read_text(errors="replace").strip().splitlines()[-3:]
                    except OSError:
                        tail = ["(log file gone)"]
                    raise WorkerError(f"{self.name}: exited ({self.proc.returncode}): {' | '.join(tail)}")
                self._buffer += chunk

    def command(self, timeout: float = 600, **command) -> dict:
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        self.proc.stdin.flush()
        return self.receive(timeout)

    def finish(self, timeout: float = 120) -> dict:
        """Tell the worker to stop; its last message has its peak RSS."""
        try:
            self.proc.stdin.write(b'{"op": "quit"}\n')
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            while "done" not in (message := self.receive(timeout)):
                pass
            self.final = message
        finally:
            self.kill()
        return self.final

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def start_all(workers: list[Worker], timeout: float = 600) -> None:
    """Wait until every worker of a group has imported and set up."""
    for w in workers:
        w.ready = w.receive(timeout)


def take_turns(workers: list[Worker], rounds: int, steps: dict[str, int]) -> None:
    """A, B, C, A, B, C, ...: each round every worker runs its steps once."""
    for _ in range(rounds):
        for w in workers:
            w.results.append(w.command(steps=steps[w.name]))


def rates(w: Worker, steps: int, key: str = "seconds") -> list[float]:
    """Steps per second of each of the worker's rounds."""
    return [steps / r[key] for r in w.results]


def _mb(kb: int | None) -> float | None:
    return None if kb is None else kb / 1024.0


@dataclass
class Bench:
    """One bench run: each method measures one section into ``results``."""

    quick: bool
    log_dir: Path
    checkpoint_dir: Path = CHECKPOINT_DIR
    results: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def spec(self, **kw) -> dict:
        kw.setdefault("warmup", plan.QUICK_WARMUP_STEPS if self.quick else plan.WARMUP_STEPS)
        return kw

    def round_steps(self, model: Notebook) -> int:
        return plan.QUICK_ROUND_STEPS if self.quick else model.bench.round_steps

    def group(self, workers: list[Worker], body: Callable[[], None]) -> None:
        """Start ``workers``, run ``body`` with them, collect their peak RSS; never leave one running."""
        try:
            start_all(workers)
            body()
            for w in workers:
                w.finish()
        finally:
            for w in workers:
                w.kill()

    def training(self, model: Notebook) -> None:
        """Graph mode against Keras (and, where the model's FLOPs are counted, the matmul), interleaved."""
        n = self.round_steps(model)
        graph = Worker(f"{model.tag} graph", self.spec(kind="graph", model=model.tag), self.log_dir)
        keras = Worker(f"{model.tag} keras", self.spec(kind="keras", model=model.tag), self.log_dir)
        group = [graph, keras]
        flops = models.training_flops(model)
        mm_steps = plan.QUICK_MATMUL_STEPS if self.quick else plan.MATMUL_STEPS
        matmul = None
        if flops is not None:
            matmul = Worker("matmul", self.spec(kind="matmul", n=models.MATMUL_N), self.log_dir)
            group.append(matmul)
        steps = {graph.name: n, keras.name: n, "matmul": mm_steps}
        self.group(group, lambda: take_turns(group, plan.ROUNDS, steps))
        g, k = rates(graph, n), rates(keras, n)
        row = {
            "model": models.title(model), "tag": model.tag, "batch": model.bench.batch,
            "optimizer": model.bench.optimizer, "steps_per_round": n, "rounds": plan.ROUNDS,
            "graph_steps_s": g, "keras_steps_s": k, "keras_whole_fit_steps_s": rates(keras, n, "seconds_whole_fit"),
            "graph": max(g), "keras": max(k),
            "graph_rss_mb": _mb(graph.final.get("maxrss_kb")), "keras_rss_mb": _mb(keras.final.get("maxrss_kb")),
            "source": graph.ready.get("source"), "keras_jit_compile": keras.ready.get("jit_compile"),
            "keras_run_eagerly": keras.ready.get("run_eagerly"), "keras_version": keras.ready.get("keras"),
        }
        row["ratio"] = row["graph"] / row["keras"]
        self.results.setdefault("training", []).append(row)
        if matmul is not None:
            mm = [mm_steps * models.matmul_flops() / r["seconds"] / 1e9 for r in matmul.results]
            cnn = [flops["total"] * s / 1e9 for s in g]
            self.results["cnn_efficiency"] = {
                "flops_per_step": flops, "cnn_gflops": max(cnn), "matmul_gflops": max(mm),
                "matmul_rounds": mm, "cnn_rounds": cnn, "matmul_rss_mb": _mb(matmul.final.get("maxrss_kb")),
                "ratio": max(cnn) / max(mm),
            }

    def settings(self) -> None:
        """The two-layer CNN in graph mode under different settings, taking turns."""
        cnn = models.two_layer_cnn()
        n = plan.QUICK_ROUND_STEPS if self.quick else plan.SETTINGS_ROUND_STEPS
        rounds = plan.ROUNDS if self.quick else plan.SETTINGS_ROUNDS
        variants = plan.SETTINGS_VARIANTS
        workers = [Worker(f"{cnn.tag} graph {name}", self.spec(kind="graph", model=cnn.tag, **extra), self.log_dir,
                          env=env) for name, env, extra in variants]
        self.group(workers, lambda: take_turns(workers, rounds, {w.name: n for w in workers}))
        base = rates(workers[0], n)
        rows = []
        for (name, env, _), w in zip(variants, workers):
            r = rates(w, n)
            rows.append({"setting": name, "env": env, "steps_s": max(r), "rounds": r, "vs_default": max(r) / max(base),
                         "rss_mb": _mb(w.final.get("maxrss_kb"))})
        self.results["settings"] = rows
        self.results["settings_steps"] = n

    def _one_command(self, w: Worker, **command) -> dict:
        """Start a single worker, give it one command, return its answer."""
        self.group([w], lambda: w.results.append(w.command(**command)))
        return w.results[0]

    def load(self) -> None:
        calls = plan.QUICK_NEXT_BATCH_CALLS if self.quick else plan.NEXT_BATCH_CALLS
        w = Worker("load", {"kind": "load", "next_batch_calls": calls}, self.log_dir)
        answer = self._one_command(w, op="load")
        self.results["load"] = {**answer, "rss_mb": _mb(w.final.get("maxrss_kb")), "import_s": w.final.get("import_s")}

    def restore(self) -> None:
        """Each shipped checkpoint of a benchmarked model, restored into its notebook's graph."""
        rows = []
        for notebook in shipping():
            if notebook.bench is None:  # the bench builds graphs only from benchmarked notebooks' cells
                continue
            prefix = notebook.ships
            if not (self.checkpoint_dir / f"{prefix}.index").is_file():
                rows.append({"checkpoint": prefix, "shipped": False})
                continue
            w = Worker(f"restore {prefix}", self.spec(kind="restore", model=notebook.tag, checkpoint=prefix),
                       self.log_dir, cwd=self.checkpoint_dir)
            answer = self._one_command(w, op="restore")
            rows.append({"checkpoint": prefix, "shipped": True, "seconds": answer["seconds"],
                         "rss_mb": _mb(w.final.get("maxrss_kb"))})
        self.results["restore"] = rows

    def profile(self) -> None:
        cnn = models.two_layer_cnn()
        w = Worker(f"{cnn.tag} profile", self.spec(kind="profile", model=cnn.tag), self.log_dir)
        self.results["profile"] = self._one_command(
            w, steps=plan.QUICK_PROFILE_STEPS if self.quick else plan.PROFILE_STEPS)

    def recognizer(self) -> None:
        """The recognizer with the two-layer CNN's shipped weights (random ones if not shipped)."""
        cnn = models.two_layer_cnn()
        checkpoint = cnn.ships if (self.checkpoint_dir / f"{cnn.ships}.index").is_file() else None
        w = Worker("recognizer", self.spec(kind="recognizer", model=cnn.tag, checkpoint=checkpoint), self.log_dir,
                   cwd=self.checkpoint_dir if checkpoint else None)
        answer = self._one_command(w, steps=plan.QUICK_RECOGNIZER_RUNS if self.quick else plan.RECOGNIZER_RUNS)
        self.results["recognizer"] = {**answer, "weights": w.ready.get("weights"),
                                      "rss_mb": _mb(w.final.get("maxrss_kb"))}

    def drawings(self) -> None:
        """The recognizer on huge drawings and 100,000-point strokes (``drawings.py``), in a process of its own."""
        code = ("import json, sys\nfrom course_tools.bench.drawings import measure\n"
                "print(json.dumps(measure(int(sys.argv[1]))))")
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "MPLBACKEND": "Agg",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
        with open(self.log_dir / "drawings.log", "wb") as log:
            done = subprocess.run([sys.executable, "-c", code, "1" if self.quick else str(plan.ROUNDS)],
                                  stdout=subprocess.PIPE, stderr=log, env=env, cwd=REPO_ROOT, timeout=900, check=True)
        self.results["drawings"] = json.loads(done.stdout.decode().strip().splitlines()[-1])

    def evaluation(self, chosen: list[Notebook]) -> None:
        """Each model's test-set evaluation as its notebook does it, against chunks of ``EVAL_ALT_CHUNK``."""
        rows = []
        rounds = 1 if self.quick else plan.ROUNDS
        for model in chosen:
            variants = [("as the notebook", model.bench.eval_chunk),
                        (f"chunks of {plan.EVAL_ALT_CHUNK}", plan.EVAL_ALT_CHUNK)]
            workers = [Worker(f"{model.tag} eval {label}", self.spec(kind="eval", model=model.tag, chunk=chunk),
                              self.log_dir) for label, chunk in variants]
            self.group(workers, lambda ws=workers: take_turns(ws, rounds, {w.name: 1 for w in ws}))
            for (label, chunk), w in zip(variants, workers):
                rows.append({"tag": model.tag, "how": label, "chunk": chunk,
                             "seconds": min(r["seconds"] for r in w.results),
                             "first_s": w.results[0]["first_s"], "rss_mb": _mb(w.final.get("maxrss_kb")),
                             "evals": model.bench.steps // model.bench.eval_every, "steps": model.bench.steps})
        self.results["eval"] = rows

    def attempt(self, what: str, function: Callable, *args) -> None:
        """Run one section; a failure is recorded and the bench goes on."""
        print(f"measuring {what} ...", flush=True)
        start = time.perf_counter()
        try:
            function(*args)
        except Exception as error:  # one failed measurement must not lose the others
            message = str(error) if isinstance(error, WorkerError) else f"{type(error).__name__}: {error}"
            self.errors.append(f"{what}: {message}")
            print(f"  {what} FAILED: {message}", flush=True)
        print(f"  {what}: {time.perf_counter() - start:.0f} s", flush=True)


class Section(NamedTuple):
    """One part of the bench, in a full bench's order."""

    name: str  # as ``tfbook.py bench NAME`` picks it
    what: str  # as the progress lines say it
    method: Callable
    args: tuple = ()
    side_by_side: bool = False  # compares processes that take turns (never run beside another section)


def machine() -> dict:
    """What the numbers were measured on: CPU, cores, versions, load average."""
    import numpy as np
    import tensorflow as tf

    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor() or "unknown"
    info = {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": model, "cores": os.cpu_count(), "tensorflow": tf.__version__, "numpy": np.__version__,
        "python": platform.python_version(),
    }
    try:
        info["load_average"] = os.getloadavg()
    except OSError:
        pass
    return info


def run(names: list[str], quick: bool, out_dir: Path, checkpoint_dir: Path = CHECKPOINT_DIR) -> dict:
    """Measure what ``names`` pick (all when empty): model tags and
    ``SECTIONS``; write ``latest.md`` and ``latest.json`` into ``out_dir``."""
    wanted = [n.upper() if n.upper() in MODELS else n.lower() for n in names]
    unknown = [n for n in wanted if n not in MODELS and n not in SECTIONS]
    if unknown:
        raise SystemExit(f"Unknown bench names {unknown}; known: {', '.join([*MODELS, *SECTIONS])}")
    everything = not wanted
    chosen = [m for tag, m in MODELS.items() if everything or tag in wanted]
    cnn = models.two_layer_cnn().tag
    # each measuring process's stderr, for when one fails (never under benchmarks/)
    log_dir = REPO_ROOT / "build" / "bench" / "logs" if out_dir == BENCH_DIR else out_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    bench = Bench(quick=quick, log_dir=log_dir, checkpoint_dir=checkpoint_dir)
    bench.results["machine"] = machine()
    bench.results["quick"] = quick
    start = time.perf_counter()
    sections = [Section("load", "MNIST load", bench.load),
                *[Section(model.tag, f"{model.tag} training (graph vs keras)", bench.training, (model,), True)
                  for model in chosen],
                Section("profile", f"{cnn} profile (traced steps)", bench.profile),
                Section("settings", f"{cnn} under TensorFlow settings", bench.settings, (), True),
                Section("eval", "test-set evaluations", bench.evaluation, (chosen or list(MODELS.values()),), True),
                Section("restore", "checkpoint restore", bench.restore),
                Section("recognizer", "recognizer latency", bench.recognizer),
                Section("drawings", "recognizer on large drawings", bench.drawings)]
    sections = [s for s in sections if everything or s.name in wanted]
    two_at_a_time = [s for s in sections if quick and not s.side_by_side]  # quick: one-process sections, last
    for section in sections:
        if section not in two_at_a_time:
            bench.attempt(section.what, section.method, *section.args)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda s: bench.attempt(s.what, s.method, *s.args), two_at_a_time))
    bench.results["seconds"] = time.perf_counter() - start
    bench.results["errors"] = bench.errors
    try:
        bench.results["load_average_end"] = os.getloadavg()
    except OSError:
        pass
    report = render(bench.results)
    report += f"\nBench time: {bench.results['seconds']:.0f} s.\n"
    (out_dir / "latest.md").write_text(report, encoding="utf-8")
    (out_dir / "latest.json").write_text(results_json(bench.results), encoding="utf-8")
    return bench.results


def results_json(results: dict) -> str:
    """``results`` as indented JSON with each list of numbers on one line,
    so a reviewer reads a run's measurements as rows, not one number a line."""
    text = json.dumps(results, indent=1, default=str)
    numbers = re.compile(r"\[\s*(-?[0-9][-+.0-9eE]*(?:,\s*-?[0-9][-+.0-9eE]*)*)\s*\]")
    return numbers.sub(lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text) + "\n"
