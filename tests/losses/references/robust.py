"""NumPy float64 references for the robust family: Barron's loss is eq. (1) of the paper with its limits.

Written from the definitions, directly (no numerical tricks).
"""

from __future__ import annotations

import numpy as np

from references import reference


def barron(x, alpha, c):
    """Barron 2019, eq. (1) and its limits (eqs. 3-7)."""
    z = (x / c) ** 2
    if alpha == 2:
        return 0.5 * z
    if alpha == 0:
        return np.log1p(0.5 * z)
    if alpha == -np.inf:
        return -np.expm1(-0.5 * z)
    if alpha == np.inf:
        return np.expm1(0.5 * z)
    b = abs(alpha - 2)
    return (b / alpha) * ((z / b + 1) ** (0.5 * alpha) - 1)


@reference("general_robust")
def general_robust(p, t, alpha=1.0, scale=1.0):
    return barron(p - t, alpha, scale)


@reference("cauchy")
def cauchy(p, t, scale=1.0):
    return scale**2 * np.log(1 + 0.5 * ((p - t) / scale) ** 2)


@reference("welsch")
def welsch(p, t, scale=1.0):
    return scale**2 * (1 - np.exp(-0.5 * ((p - t) / scale) ** 2))


@reference("geman_mcclure")
def geman_mcclure(p, t, scale=1.0):
    y2 = ((p - t) / scale) ** 2
    return scale**2 * 2 * y2 / (y2 + 4)


@reference("tukey_biweight")
def tukey_biweight(p, t, scale=1.0):
    y2 = ((p - t) / scale) ** 2
    return np.where(y2 <= 1, scale**2 / 6 * (1 - (1 - y2) ** 3), scale**2 / 6)
