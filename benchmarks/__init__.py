"""The jaxloss benchmark suite: `python -m benchmarks [--quick]` (also `jaxloss bench`).

Every comparison is measured side by side in the same run and reported as a
ratio (see ``_timing.interleaved``). Nothing here asserts anything about speed:
goals are printed next to the measured figures.
"""
