"""How the inspector writes numbers, arrays, pytrees and NaN/inf positions (private)."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

ARG_NAMES = ("predictions", "targets")


def arg_name(i: int) -> str:
    return ARG_NAMES[i] if i < len(ARG_NAMES) else f"argument {i}"


def x64() -> bool:
    return bool(jax.config.jax_enable_x64)


def is_float(a: Any) -> bool:
    dt = np.asarray(a).dtype if not hasattr(a, "dtype") else a.dtype
    return jnp.issubdtype(dt, jnp.floating)


def nonfinite(label: str, x: Any, limit: int = 3) -> list[str]:
    """'label: 2 NaN at (0, 1), (3, 2)' lines for the NaN and inf entries of ``x``."""
    if x is None or not is_float(x):
        return []
    a = np.asarray(jnp.asarray(x).astype(jnp.float32) if jnp.asarray(x).dtype == jnp.bfloat16 else x, np.float64)
    out = []
    for what, bad in (("NaN", np.isnan(a)), ("+inf", np.isposinf(a)), ("-inf", np.isneginf(a))):
        if bad.any():
            idx = [tuple(int(i) for i in ix) for ix in np.argwhere(bad)[:limit]]
            more = f" (+{int(bad.sum()) - limit} more)" if bad.sum() > limit else ""
            out.append(f"{label}: {int(bad.sum())} {what} at {', '.join(map(str, idx)) if idx else '()'}{more}")
    return out


def fmt(x: Any, digits: int = 6) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    return f"{x:.{digits}g}"


def fmt_array(a: Any, limit: int = 8) -> str:
    flat = np.asarray(a, np.float64).reshape(-1)
    body = ", ".join(fmt(v, 4) for v in flat[:limit])
    return f"[{body}{', ...' if flat.size > limit else ''}]"


def _leaf_name(path: Any) -> str:
    return "/".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path) or "x"


def entry_names(tree: Any) -> list[str]:
    """A name for every entry of ``ravel_pytree(tree)``, in its order: ``w[2]``, ``layer/b``, ``w1[0, 3]``."""
    names = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        base = _leaf_name(path)
        shape = np.shape(leaf)
        if not shape:
            names.append(base)
        else:
            names += [f"{base}[{', '.join(map(str, ix))}]" for ix in np.ndindex(*shape)]
    return names


def fmt_tree(tree: Any) -> str:
    """A gradient pytree by leaf: ``w [0.1, -0.2], b 0.3``."""
    parts = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = _leaf_name(path)
        parts.append(f"{name} {fmt(float(np.asarray(leaf)), 4) if np.ndim(leaf) == 0 else fmt_array(leaf, 4)}")
    return ", ".join(parts[:8]) + (", ..." if len(parts) > 8 else "")


def first_index(shape: tuple[int, ...], flat: int) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()
