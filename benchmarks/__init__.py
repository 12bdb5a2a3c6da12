"""The jaxloss benchmark suite: `python -m benchmarks [--quick]`, from a clone of the repository.

Every comparison is measured side by side in the same run and reported as a
ratio (see ``_timing.interleaved``). Nothing here asserts anything about speed:
goals are printed next to the measured figures.
"""

import os

# PyTorch's CPU threads (OpenMP) spin for a while after each call by default, and the contender timed
# right after a PyTorch call then shares the cores with them: jaxloss's softmax cross-entropy measured
# 1.5x slower than optax's on a 2-core CPU for that reason alone (14.3 against 9.4 ms; 9.0 against 8.8 ms
# with passive waiting). Set before any benchmark imports torch; a value the user exported is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
