"""How much the bench measures: rounds, steps, warm-up and the settings tried.

The controller runs this plan and the report quotes it; a full bench takes
about 8 minutes of a 2-core machine with these numbers.  Steps per round of
each model's training are the catalog's (``Benchmarked.round_steps``).
"""

from __future__ import annotations

ROUNDS = 5  # best of 5: on a shared 2-core machine best of 3 still varied by 15 % between runs
QUICK_ROUND_STEPS = 3  # --quick: enough to see every part work, too few to mean anything
WARMUP_STEPS = 20
QUICK_WARMUP_STEPS = 2
MATMUL_STEPS = 40  # matmuls per round, timed in the two-layer CNN's rounds
QUICK_MATMUL_STEPS = 3
PROFILE_STEPS = 30
QUICK_PROFILE_STEPS = 3
SETTINGS_ROUND_STEPS = 40
SETTINGS_ROUNDS = 5
EVAL_ALT_CHUNK = 1000  # the test set in chunks of this, against the notebook's way
RECOGNIZER_RUNS = 50
QUICK_RECOGNIZER_RUNS = 5
NEXT_BATCH_CALLS = 2200  # two epochs of 55,000 images in batches of 50: TF 1.x's copies twice
QUICK_NEXT_BATCH_CALLS = 200

# The two-layer CNN in graph mode under these settings, taking turns:
# (name, environment variables, extra worker spec); the first is the reference.
SETTINGS_VARIANTS: list[tuple[str, dict, dict]] = [
    ("default (what the notebooks get)", {}, {}),
    ("TF_NUM_INTEROP_THREADS=1", {"TF_NUM_INTEROP_THREADS": "1"}, {}),
    ("TF_NUM_INTRAOP_THREADS=1", {"TF_NUM_INTRAOP_THREADS": "1"}, {}),
    ("TF_ENABLE_ONEDNN_OPTS=0 (Eigen kernels)", {"TF_ENABLE_ONEDNN_OPTS": "0"}, {}),
    ("XLA auto-clustering (TF_XLA_FLAGS)", {"TF_XLA_FLAGS": "--tf_xla_auto_jit=2 --tf_xla_cpu_global_jit"}, {}),
    ("TF_ONEDNN_USE_SYSTEM_ALLOCATOR=1 (malloc instead of TF's allocator)", {"TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "1"},
     {}),
    ("tf.disable_resource_variables() (TF 1.x reference variables)", {}, {"legacy_variables": True}),
    ("experiment: MatMul gradient without transpose_b (patched TF, not a setting)", {},
     {"patch_matmul_gradient": True}),
    ("experiment: TF_SET_ONEDNN_FPMATH_MODE=BF16 (bfloat16 inside fp32 ops: changes the numbers)",
     {"TF_SET_ONEDNN_FPMATH_MODE": "BF16"}, {}),
]
