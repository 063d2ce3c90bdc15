"""Where the two-layer CNN's training step goes: traced steps, split by part.

TensorFlow records, for a step run with ``FULL_TRACE``, when each op began
and ended.  The ops are grouped into the parts ``models.PROFILE_PARTS``
names (by op-name pattern), and each part gets two numbers: the time it
was busy (the union of its ops' intervals) and its share of the step (every
moment split equally among the parts running then).  Shares add up to the
step, busy times do not: TensorFlow runs independent ops side by side.
"""

from __future__ import annotations

import re
import statistics
import time

from ..catalog import Notebook
from .models import IDLE, PROFILE_PARTS, part_flops

Intervals = dict[str, list[tuple[int, int]]]


def busy_time(found: list[tuple[int, int]]) -> int:
    """Length of the union of the intervals ``found``."""
    busy, reach = 0, None
    for begin, end in sorted(found):
        if reach is None or begin > reach:
            busy += end - begin
            reach = end
        elif end > reach:
            busy += end - reach
            reach = end
    return busy


def shares(intervals: Intervals) -> dict[str, float]:
    """Split the step's time among the parts running at each moment (equal
    shares when several run side by side); time with no op running is IDLE."""
    edges = sorted({e for found in intervals.values() for interval in found for e in interval})
    result = dict.fromkeys([*intervals, IDLE], 0.0)
    for begin, end in zip(edges, edges[1:]):
        active = [name for name, found in intervals.items() if any(b < end and e > begin for b, e in found)]
        for name in active or [IDLE]:
            result[name] += (end - begin) / max(len(active), 1)
    return result


def _traced_intervals(metadata) -> tuple[Intervals, float]:
    """The ops' intervals of one traced step, by part, and the step's span
    (first op's start to last op's end) in seconds."""
    intervals: Intervals = {name: [] for name, _, _, _ in PROFILE_PARTS}
    first, last = None, None
    for device in metadata.step_stats.dev_stats:
        for node in device.node_stats:
            begin, end = node.all_start_micros, node.all_start_micros + node.all_end_rel_micros
            if node.node_name in ("_SOURCE", "_SINK") or end <= begin:
                continue
            first = begin if first is None else min(first, begin)
            last = end if last is None else max(last, end)
            part = next(name for name, pattern, _, _ in PROFILE_PARTS if re.search(pattern, node.node_name))
            intervals[part].append((begin, end))
    return intervals, (last - first) / 1e6 if first is not None else 0.0


def profile_steps(ns: dict, model: Notebook, steps: int) -> dict:
    """Trace ``steps`` training steps of the graph the notebook's cells built
    (namespace ``ns``) and report, per part, the mean busy time and share."""
    import tensorflow.compat.v1 as tf

    sess, mnist, x, t, train_step = ns["sess"], ns["mnist"], ns["x"], ns["t"], ns["train_step"]
    feed_extra = {ns["keep_prob"]: 0.5} if "keep_prob" in ns else {}
    busy: dict[str, list[float]] = {name: [] for name, _, _, _ in PROFILE_PARTS}
    shared: dict[str, list[float]] = {name: [] for name in [*busy, IDLE]}
    spans, walls = [], []
    options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
    for _ in range(steps):
        batch_xs, batch_ts = mnist.train.next_batch(model.bench.batch)
        metadata = tf.RunMetadata()
        start = time.perf_counter()
        sess.run(train_step, feed_dict={x: batch_xs, t: batch_ts, **feed_extra}, options=options,
                 run_metadata=metadata)
        walls.append(time.perf_counter() - start)
        intervals, span = _traced_intervals(metadata)
        spans.append(span)
        for name, share in shares(intervals).items():
            shared[name].append(share / 1e6)
        for name, found in intervals.items():
            busy[name].append(busy_time(found) / 1e6)
    # Means, not medians: where the time goes is total time over steps, and means of the
    # shares add up to the mean span (medians taken part by part do not, on a busy machine).
    flops = part_flops(model.bench.batch)
    return {"wall_s": statistics.fmean(walls), "span_s": statistics.fmean(spans), "steps": len(spans),
            "parts": [{"part": name, "seconds": statistics.fmean(busy[name]), "flops": flops[name],
                       "share_s": statistics.fmean(shared[name])} for name in busy]
            + [{"part": IDLE, "seconds": 0.0, "flops": 0, "share_s": statistics.fmean(shared[IDLE])}]}
