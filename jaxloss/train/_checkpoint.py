"""Checkpoints of ``fit``: NumPy ``.npz`` files for the arrays and JSON for the rest (never pickle).

A checkpoint directory holds ``params.npz``, ``opt_state.npz``, ``model_state.npz``,
``best_params.npz``, ``best_model_state.npz`` (the leaves of each pytree, in order), ``history.json``
and ``state.json`` (epoch, optimizer step, seed, best-epoch tracking), written last. Loading checks
everything against the run it resumes (the number of arrays, their shapes and dtypes, the epoch) and
names the file and the problem when something does not fit. Only process 0 writes.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxloss.train._history import History

__all__ = ["save_checkpoint", "load_checkpoint", "TREES"]

#: The pytrees of a checkpoint, by file stem.
TREES = ("params", "opt_state", "model_state", "best_params", "best_model_state")
_META = {"epoch": int, "step": int, "seed": int, "best_epoch": int, "wait": int, "has_best": bool}


def _save_tree(path: str, tree: Any) -> None:
    leaves = [np.asarray(x) for x in jax.tree.leaves(tree)]
    tmp = path + ".tmp.npz"
    np.savez(tmp, **{f"leaf_{i:05d}": x for i, x in enumerate(leaves)})
    os.replace(tmp, path)


def save_checkpoint(directory: str | os.PathLike[str], state: dict) -> None:
    """Writes ``state`` (the five trees of :data:`TREES`, ``history`` and the metadata) to ``directory``."""
    if jax.process_index() != 0:
        return
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    for name in TREES:
        _save_tree(os.path.join(directory, name + ".npz"), state[name])
    state["history"].to_json(os.path.join(directory, "history.json.tmp"))
    os.replace(os.path.join(directory, "history.json.tmp"), os.path.join(directory, "history.json"))
    meta = {k: state[k] for k in _META}
    meta["best_value"] = None if not math.isfinite(state["best_value"]) else state["best_value"]
    with open(os.path.join(directory, "state.json.tmp"), "w") as f:
        json.dump(meta, f)
    os.replace(os.path.join(directory, "state.json.tmp"), os.path.join(directory, "state.json"))


def _problem(path: str, what: str) -> ValueError:
    return ValueError(f"fit: cannot resume from checkpoint file {path}: {what}")


def _load_tree(path: str, like: Any, what: str) -> Any:
    template, treedef = jax.tree.flatten(like)
    if not os.path.exists(path):
        raise FileNotFoundError(f"fit: the checkpoint has no {os.path.basename(path)} (looked for {path}).")
    try:  # the file handle is ours, so it is closed also when NumPy fails half-way
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError):
        # NumPy's own message for a file that is not a zip suggests allow_pickle=True: never do that here.
        raise _problem(path, "it is not a readable .npz file of arrays (truncated or corrupted); write the "
                             "checkpoint again or resume from an earlier one.") from None
    expected = [f"leaf_{i:05d}" for i in range(len(template))]
    if sorted(arrays) != expected:
        raise _problem(path, f"it holds {len(arrays)} arrays named {sorted(arrays)[:4]}...; the run's {what} has "
                       f"{len(template)} arrays (leaf_00000...). Was it written for another model or optimizer?")
    leaves = []
    for i, (key, ref) in enumerate(zip(expected, template)):
        a, want_shape, want_dtype = arrays[key], np.shape(ref), np.dtype(jax.dtypes.canonicalize_dtype(jnp.result_type(ref)))
        if a.shape != want_shape or a.dtype != want_dtype:
            raise _problem(path, f"{what} array {i} is {a.dtype}{list(a.shape)}; the run expects "
                           f"{want_dtype}{list(want_shape)}.")
        leaves.append(a)
    return jax.tree.unflatten(treedef, leaves)


def _load_meta(path: str) -> dict:
    if not os.path.exists(path):
        raise FileNotFoundError(f"fit: the checkpoint has no state.json (looked for {path}).")
    try:
        with open(path) as f:
            meta = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _problem(path, f"it is not valid JSON ({err}).") from None
    if not isinstance(meta, dict):
        raise _problem(path, f"it holds a {type(meta).__name__}, not an object.")
    for key, kind in _META.items():
        value = meta.get(key)
        if type(value) is not kind:  # bool is not an int here
            raise _problem(path, f"{key!r} must be a{'n' if kind is int else ''} {kind.__name__}; got {value!r}.")
        if kind is int and key != "seed" and value < 0:
            raise _problem(path, f"{key!r} must be >= 0; got {value}.")
    best = meta.get("best_value")
    if best is not None and not isinstance(best, (int, float)):
        raise _problem(path, f"'best_value' must be a number or null; got {best!r}.")
    meta["best_value"] = math.nan if best is None else float(best)
    if meta["best_epoch"] > meta["epoch"]:
        raise _problem(path, f"'best_epoch' {meta['best_epoch']} is after the checkpoint's epoch {meta['epoch']}.")
    return meta


def load_checkpoint(directory: str | os.PathLike[str], like: dict, *, epochs: int) -> dict:
    """Reads a checkpoint of ``fit(checkpoint_dir=...)``; ``like`` holds the run's trees as templates."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"fit: resume_from={directory!r} is not a directory.")
    meta = _load_meta(os.path.join(directory, "state.json"))
    if meta["epoch"] > epochs:
        raise _problem(os.path.join(directory, "state.json"),
                       f"it was written after epoch {meta['epoch']}, beyond this run's epochs={epochs}.")
    history_path = os.path.join(directory, "history.json")
    try:
        history = History.from_json(history_path)
    except FileNotFoundError:
        raise FileNotFoundError(f"fit: the checkpoint has no history.json (looked for {history_path}).") from None
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise _problem(history_path, f"it is not a History written by fit ({err}).") from None
    if history.epochs != meta["epoch"]:
        raise _problem(history_path, f"it records {history.epochs} epochs; state.json says {meta['epoch']}.")
    trees = {name: _load_tree(os.path.join(directory, name + ".npz"), like[name], name.replace("_", " "))
             for name in TREES}
    return {**meta, **trees, "history": history}
