"""The jaxloss benchmark suite: `python -m benchmarks [--quick]`, from a clone of the repository.

Every comparison is measured side by side in the same run and reported as a
ratio (see ``_timing.interleaved``). Nothing here asserts anything about speed:
goals are printed next to the measured figures.
"""
