"""How fast the lecture's code runs on this machine: ``python3 tfbook.py bench``.

Everything is measured in one run and written as a markdown table to
``benchmarks/latest.md`` (``--quick``: a few steps only, written to
``build/bench-quick/latest.md``; it checks that the bench works, its numbers
mean little).

* Training throughput of the lecture's MNIST models (the catalog's
  ``bench=`` entries), built and fed as the notebooks do (graph mode,
  ``sess.run(train_step, feed_dict=...)`` with ``mnist.train.next_batch``),
  against the same architecture, batch size, optimizer and number of steps
  in ``tf.keras`` ``model.fit`` (Keras 3, its defaults: a ``tf.function``,
  no XLA on a CPU-only machine).  The model code is the notebook's own
  cells, read from chapters/ (the table says which notebook), so the bench
  measures what students run.  Graph mode and Keras run in separate
  processes and take turns, A, B, A, B, ..., so that a machine shared with
  other work slows both alike; each side's best round is reported (slower
  rounds measure the other work, as `timeit` advises).
* The two-layer CNN's achieved GFLOP/s (FLOPs counted analytically, see
  ``models.cnn_flops``) against a 2048x2048 fp32 matmul timed in the same rounds.
* Where the CNN's training step goes (``profile``: traced steps, per part).
* MNIST load (first call in a fresh process, then a second call), the
  restore time of each shipped checkpoint, the handwriting recognizer's
  latency, the notebooks' test-set evaluations, and (``settings``) the CNN
  under different TensorFlow thread / oneDNN / XLA settings.
* Peak memory (RSS) of every measurement: each runs in its own process.

``python3 tfbook.py bench CNN load`` measures only what is named: the
benchmarked notebooks' tags and ``load``, ``profile``, ``settings``,
``eval``, ``restore``, ``recognizer``.  Without names, everything.

The modules, by job: ``models`` (the models from the notebooks' cells, their
tf.keras twins, the FLOP counts), ``plan`` (rounds and steps), ``workers``
and ``profile`` (the measuring processes), ``controller`` (starting them,
taking turns, one method per section, ``run``), ``report`` (``latest.md``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .controller import BENCH_DIR, QUICK_DIR, SECTIONS, run
from .models import MODELS

__all__ = ["main", "run"]


def main(argv: list[str] | None = None) -> int:
    """``tfbook.py bench [--quick] [--out DIR] [NAME ...]``; 1 if a measurement failed."""
    parser = argparse.ArgumentParser(prog="tfbook.py bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=" ".join([*MODELS, *SECTIONS]))
    parser.add_argument("--quick", action="store_true", help="a few steps only (checks that the bench works)")
    parser.add_argument("--out", type=Path, help="folder for latest.md / latest.json")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    out = args.out or (QUICK_DIR if args.quick else BENCH_DIR)
    results = run(args.names, args.quick, out)
    print()
    print((out / "latest.md").read_text(encoding="utf-8"))
    print(f"Written to {out / 'latest.md'}")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
