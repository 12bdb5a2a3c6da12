"""Checkpoints of ``fit``: atomic, every leaf stored by its key path, in orbax's format or NumPy ``.npz`` + JSON.

Layout of a ``checkpoint_dir``::

    latest               the name of the current checkpoint ("epoch_000012\\n"), replaced atomically
    epoch_000011/        the previous complete checkpoint (kept; older ones are removed)
    epoch_000012/
      manifest.json      written last: backend, epoch, the dtype of every leaf by key path, and every
                         file with the epoch it was written at, its size and its SHA-256
      state.json         epoch, optimizer step, seed, best-epoch tracking
      history.json
      params.npz ...     backend "npz": one .npz per tree (TREES), one array per leaf named by its key
                         path (``jax.tree_util.keystr``: ``['w']``, ``[0].mu['w']``), plus
                         ``__checkpoint__`` (the tree's name and the epoch, as JSON text; never pickle)
      arrays/            backend "orbax": one orbax checkpoint of the five trees, leaves by key path

**What is atomic.** A checkpoint is written whole into ``.tmp-epoch_000012-<pid>/`` beside the others and
synced to disk; one ``os.rename`` of that directory (atomic on POSIX) makes ``epoch_000012/`` appear
complete or not at all; then ``latest`` is written as ``latest.tmp-<pid>`` and put in place with
``os.replace`` (atomic). A crash at any point leaves ``latest`` naming a complete checkpoint: the
previous one until the switch, the new one after. Leftovers of a crashed write and checkpoints older
than the previous one are removed only after the switch. (A crash between the first rename and the
first ``latest``, or while a stale ``epoch_000012/`` of an earlier run is moved aside, leaves no valid
``latest``: the newest ``epoch_*`` directory is read then, and it is complete by construction.)

**What loading checks.** ``resume_from`` is a ``checkpoint_dir`` (its ``latest`` is read) or one
``epoch_*`` directory. Every file the manifest lists must have the recorded size and SHA-256 (a file
from another save, a truncated or edited one is named, with the epoch it was written at when it tells);
state.json and history.json must be of the manifest's epoch; each tree must have the run's key paths,
shapes and dtypes, and a difference names the file, the key path and what differs (missing or extra key
paths, shape, dtype). Only process 0 writes; every process reads.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import math
import os
import re
import shutil
import zipfile
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxloss.train._history import History

__all__ = ["save_checkpoint", "load_checkpoint", "checkpoint_backend", "Destination", "TREES", "FORMATS"]

#: The pytrees of a checkpoint, by name.
TREES = ("params", "opt_state", "model_state", "best_params", "best_model_state")
#: What ``fit(checkpoint_format=...)`` takes.
FORMATS = ("auto", "orbax", "npz")
_META = {"epoch": int, "step": int, "seed": int, "best_epoch": int, "wait": int, "has_best": bool}
_VERSION = 2
_KEEP = 2  # complete checkpoints kept: the current one and the previous one
_NAME = re.compile(r"epoch_(\d{6,})")
_LEFTOVER = re.compile(r"\.(tmp|old)-epoch_\d{6,}-\d+")
_INFO = "__checkpoint__"  # the name of the metadata entry of an .npz (a key path never looks like it)
_ORBAX_DIR = "arrays"
_INSTALL = "pip install orbax-checkpoint (it is in jaxloss's dev extra)"


# -- the format ------------------------------------------------------------------------------------


def checkpoint_backend(value: Any) -> str:
    """The backend ``fit(checkpoint_format=value)`` writes with: ``"orbax"`` or ``"npz"``."""
    if not isinstance(value, str):
        raise TypeError(f"fit: checkpoint_format must be one of {', '.join(map(repr, FORMATS))}; got "
                        f"{type(value).__name__} {value!r}.")
    if value not in FORMATS:
        raise ValueError(f"fit: checkpoint_format={value!r} is not a checkpoint format; choose 'auto' (orbax when it "
                         "is installed, else 'npz'), 'orbax' or 'npz'.")
    if value == "npz":
        return "npz"
    if _orbax_installed():
        return "orbax"
    if value == "orbax":
        raise ImportError(f"fit: checkpoint_format='orbax' needs orbax-checkpoint, which is not installed: {_INSTALL}; "
                          "or pass checkpoint_format='npz'.")
    return "npz"


def _orbax_installed() -> bool:
    try:  # finds the package without importing it (importing orbax.checkpoint takes seconds)
        return (importlib.util.find_spec("orbax") is not None
                and importlib.util.find_spec("orbax.checkpoint") is not None)
    except (ImportError, ValueError):
        return False


def _orbax() -> Any:
    try:
        import orbax.checkpoint as ocp
    except ImportError as err:
        raise ImportError(f"fit: this checkpoint needs orbax-checkpoint: {_INSTALL}.") from err
    return ocp


def _orbax_checkpointer(ocp: Any, process: int) -> Any:
    # One process saves (process 0) or reads (each its own) alone: no barrier with the others.
    options = ocp.options.MultiprocessingOptions(primary_host=process, active_processes={process})
    return ocp.Checkpointer(ocp.StandardCheckpointHandler(multiprocessing_options=options),
                            multiprocessing_options=options)


@dataclasses.dataclass(frozen=True)
class Destination:
    """Where and how ``fit`` writes its checkpoints (what the loop receives as ``checkpoint_dir``)."""

    directory: str
    backend: str = "npz"


# -- leaves by key path ------------------------------------------------------------------------------


def _is_key(leaf: Any) -> bool:
    dtype = getattr(leaf, "dtype", None)
    return dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def _dtype_name(leaf: Any) -> str:
    """What the checkpoint records as the leaf's dtype (a typed PRNG key as ``key<impl>``)."""
    if _is_key(leaf):
        return str(leaf.dtype)
    return str(np.dtype(jax.dtypes.canonicalize_dtype(jnp.result_type(leaf))))


def _stored_shape(leaf: Any) -> tuple[int, ...]:
    return jax.eval_shape(jax.random.key_data, leaf).shape if _is_key(leaf) else tuple(np.shape(leaf))


def _flat(tree: Any) -> list[tuple[str, Any]]:
    out = [(jax.tree_util.keystr(path), leaf) for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]]
    seen: set[str] = set()
    for key, _ in out:
        if key in seen or key == _INFO:
            raise ValueError(f"fit: cannot checkpoint a tree in which two leaves have the key path {key!r}.")
        seen.add(key)
    return out


def _host_tree(tree: Any, *, npz: bool) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The leaves of ``tree`` as host arrays by key path, and their dtype names. Typed keys are stored as
    their key data; in ``.npz`` a dtype NumPy cannot name in a file (bfloat16, float8) as its bits."""
    flat = _flat(tree)
    names = {k: _dtype_name(leaf) for k, leaf in flat}
    host = jax.device_get([jax.random.key_data(leaf) if _is_key(leaf) else leaf for _, leaf in flat])
    arrays = {}
    for (key, _), value in zip(flat, host):
        a = np.asarray(value, dtype=None if names[key].startswith("key<") else np.dtype(jnp.dtype(names[key])))
        arrays[key] = a.view(f"u{a.dtype.itemsize}") if npz and a.dtype.kind == "V" else a
    return arrays, names


def _show(keys: list[str], limit: int = 6) -> str:
    shown = ", ".join(k or "(the root)" for k in keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _match(path: str, what: str, arrays: dict[str, np.ndarray], names: dict[str, str], like: Any) -> Any:
    """The tree ``like`` with the checkpoint's arrays, matched by key path; raises naming what differs."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(like)
    want = {jax.tree_util.keystr(p): leaf for p, leaf in leaves}
    missing, extra = [k for k in want if k not in arrays], [k for k in arrays if k not in want]
    if missing or extra:
        parts = ([f"the run's {what} has {_show(missing)}, which the checkpoint lacks"] if missing else []) + (
            [f"the checkpoint's {what} has {_show(extra)}, which the run lacks"] if extra else [])
        raise _problem(path, f"the key paths differ: {'; '.join(parts)}. Was it written for another model or "
                             "optimizer?")
    out = []
    for key, ref in want.items():
        a, name = arrays[key], names.get(key)
        want_name, want_shape = _dtype_name(ref), _stored_shape(ref)
        if name != want_name or a.shape != want_shape:
            raise _problem(path, f"{what}{key} is {name}{list(a.shape)}; the run expects "
                                 f"{want_name}{list(want_shape)}.")
        if _is_key(ref):
            if a.dtype != np.uint32:
                raise _problem(path, f"{what}{key} holds {a.dtype} key data; a {name} holds uint32.")
            out.append(jax.random.wrap_key_data(a, impl=jax.random.key_impl(ref)))
            continue
        dtype = np.dtype(jnp.dtype(name))
        if a.dtype != dtype:
            if a.dtype.itemsize != dtype.itemsize or a.dtype.kind != "u":
                raise _problem(path, f"{what}{key} is stored as {a.dtype}; the checkpoint says {name}.")
            a = a.view(dtype)
        out.append(a)
    return jax.tree_util.tree_unflatten(treedef, out)


# -- writing ----------------------------------------------------------------------------------------


def _sync(path: str) -> None:
    """Flushes a written file, or a directory's entries after a rename, to disk. Every step of a save
    ends here, so a test that raises here after k calls is a crash after k steps."""
    if os.name == "nt" and os.path.isdir(path):  # Windows cannot open a directory; its renames are durable
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _digest(path: str) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _recorded(path: str, epoch: int) -> dict:
    """A finished file: synced to disk, and what the manifest records of it."""
    _sync(path)
    return {"epoch": epoch, "bytes": os.path.getsize(path), "sha256": _digest(path)}


def _write_text(path: str, text: str, epoch: int) -> dict:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return _recorded(path, epoch)


def _name(epoch: int) -> str:
    return f"epoch_{epoch:06d}"


def save_checkpoint(directory: str | os.PathLike[str] | Destination, state: dict, *,
                    backend: str | None = None) -> None:
    """Writes ``state`` (the five trees of :data:`TREES`, ``history`` and the metadata) as the checkpoint of
    its epoch in ``directory``, atomically (see the module's docstring). Only process 0 writes."""
    if jax.process_index() != 0:
        return
    if isinstance(directory, Destination):
        directory, backend = directory.directory, backend or directory.backend
    backend = backend or "npz"
    directory = os.path.abspath(os.fspath(directory))
    os.makedirs(directory, exist_ok=True)
    epoch = int(state["epoch"])
    name = _name(epoch)
    tmp = os.path.join(directory, f".tmp-{name}-{os.getpid()}")
    if os.path.lexists(tmp):
        shutil.rmtree(tmp)
    os.mkdir(tmp)
    files: dict[str, dict] = {}
    trees: dict[str, dict[str, str]] = {}
    if backend == "orbax":
        ocp = _orbax()
        item: dict[str, Any] = {"epoch": np.asarray(epoch, np.int64), "trees": {}}
        for tree in TREES:
            item["trees"][tree], trees[tree] = _host_tree(state[tree], npz=False)
        with _orbax_checkpointer(ocp, 0) as checkpointer:  # orbax writes a temporary directory and renames it
            checkpointer.save(os.path.join(tmp, _ORBAX_DIR), args=ocp.args.StandardSave(item))
        for root, _, names in sorted(os.walk(os.path.join(tmp, _ORBAX_DIR))):
            for file in sorted(names):
                path = os.path.join(root, file)
                files[os.path.relpath(path, tmp).replace(os.sep, "/")] = _recorded(path, epoch)
    else:
        for tree in TREES:
            arrays, trees[tree] = _host_tree(state[tree], npz=True)
            info = np.asarray(json.dumps({"tree": tree, "epoch": epoch}))
            path = os.path.join(tmp, tree + ".npz")
            with open(path, "wb") as f:
                np.savez(f, **arrays, **{_INFO: info})
            files[tree + ".npz"] = _recorded(path, epoch)
    files["history.json"] = _write_text(os.path.join(tmp, "history.json"), state["history"].to_json(), epoch)
    meta = {k: state[k] for k in _META}
    meta["best_value"] = None if not math.isfinite(state["best_value"]) else state["best_value"]
    files["state.json"] = _write_text(os.path.join(tmp, "state.json"), json.dumps(meta), epoch)
    manifest = {"jaxloss_checkpoint": _VERSION, "backend": backend, "epoch": epoch, "trees": trees, "files": files}
    _write_text(os.path.join(tmp, "manifest.json"), json.dumps(manifest, indent=1), epoch)
    _sync(tmp)
    # The switch: the new directory appears whole, then ``latest`` names it.
    previous = _pointed(directory)
    target = os.path.join(directory, name)
    if os.path.lexists(target):  # a stale checkpoint of this epoch (an earlier run): moved aside in one step
        os.rename(target, os.path.join(directory, f".old-{name}-{os.getpid()}"))
    os.rename(tmp, target)
    _sync(directory)
    pointer = os.path.join(directory, f"latest.tmp-{os.getpid()}")
    with open(pointer, "w", encoding="utf-8") as f:
        f.write(name + "\n")
    _sync(pointer)
    os.replace(pointer, os.path.join(directory, "latest"))
    _sync(directory)
    # Cleaning up, once the new checkpoint is current: what a crash may have left, and old checkpoints.
    keep = {name} | ({previous} if previous and _epoch_of(previous) < epoch else set())
    kept = sorted((n for n in os.listdir(directory) if _NAME.fullmatch(n) and n in keep), key=_epoch_of)[-_KEEP:]
    for entry in os.listdir(directory):
        path = os.path.join(directory, entry)
        if (_NAME.fullmatch(entry) and entry not in kept) or _LEFTOVER.fullmatch(entry):
            shutil.rmtree(path, ignore_errors=True)
        elif entry.startswith("latest.tmp-") and os.path.isfile(path):
            os.remove(path)
    _sync(directory)


def _epoch_of(name: str) -> int:
    match = _NAME.fullmatch(name)
    return int(match.group(1)) if match else -1


def _pointed(directory: str) -> str | None:
    """The checkpoint ``latest`` names, if it is a well-formed name of an existing directory."""
    try:
        with open(os.path.join(directory, "latest"), encoding="utf-8") as f:
            name = f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return name if _NAME.fullmatch(name) and os.path.isdir(os.path.join(directory, name)) else None


# -- reading ----------------------------------------------------------------------------------------


def _problem(path: str, what: str) -> ValueError:
    return ValueError(f"fit: cannot resume from checkpoint file {path}: {what}")


def _locate(directory: str) -> str:
    """The checkpoint directory ``resume_from`` means: itself (it has a manifest), the one ``latest``
    names, or else the newest ``epoch_*`` in it."""
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"fit: resume_from={directory!r} is not a directory.")
    if os.path.exists(os.path.join(directory, "manifest.json")):
        return directory
    latest = os.path.join(directory, "latest")
    if os.path.exists(latest):
        name = _pointed(directory)
        if name is not None:
            return os.path.join(directory, name)
    found = sorted((n for n in os.listdir(directory) if _NAME.fullmatch(n)), key=_epoch_of)
    if found:  # a crash before the first ``latest``: every epoch_* directory is complete
        return os.path.join(directory, found[-1])
    if os.path.exists(latest):
        raise _problem(latest, "it does not name an epoch_* directory beside it, and there is none.")
    if os.path.exists(os.path.join(directory, "state.json")) and os.path.exists(os.path.join(directory, "params.npz")):
        raise ValueError(f"fit: resume_from={directory!r} holds a checkpoint of an earlier jaxloss (arrays stored by "
                         "position and written in place, so it cannot be checked); this version writes atomic "
                         "checkpoints with leaves by key path and reads only those. Train again, or resume with the "
                         "jaxloss that wrote it.")
    raise FileNotFoundError(f"fit: resume_from={directory!r} holds no checkpoint (no 'latest', no epoch_* directory, "
                            "no manifest.json); pass the checkpoint_dir of an earlier fit.")


def _load_manifest(path: str) -> dict:
    if not os.path.exists(path):
        raise FileNotFoundError(f"fit: the checkpoint has no manifest.json (looked for {path}).")
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _problem(path, f"it is not valid JSON ({err}).") from None
    if not isinstance(manifest, dict) or manifest.get("jaxloss_checkpoint") != _VERSION:
        raise _problem(path, f"it is not the manifest of a jaxloss checkpoint (version {_VERSION}).")
    if manifest.get("backend") not in ("npz", "orbax"):
        raise _problem(path, f"'backend' must be 'npz' or 'orbax'; got {manifest.get('backend')!r}.")
    epoch = manifest.get("epoch")
    if type(epoch) is not int or epoch < 0:
        raise _problem(path, f"'epoch' must be an int >= 0; got {epoch!r}.")
    trees, files = manifest.get("trees"), manifest.get("files")
    if not isinstance(trees, dict) or sorted(trees) != sorted(TREES) or not all(
            isinstance(t, dict) and all(isinstance(v, str) for v in t.values()) for t in trees.values()):
        raise _problem(path, f"'trees' must map each of {', '.join(TREES)} to the dtypes of its leaves by key path.")
    if not isinstance(files, dict) or not all(
            isinstance(e, dict) and type(e.get("epoch")) is int and type(e.get("bytes")) is int
            and isinstance(e.get("sha256"), str) for e in files.values()):
        raise _problem(path, "'files' must map each file to its epoch, bytes and sha256.")
    for name, entry in files.items():
        if os.path.isabs(name) or ".." in name.split("/"):
            raise _problem(path, f"it lists {name!r}, which is not inside the checkpoint.")
        if entry["epoch"] != epoch:  # a manifest assembled from two saves
            raise _problem(path, f"it lists {name} as written at epoch {entry['epoch']}, but is itself of epoch "
                                 f"{epoch}.")
    return manifest


def _own_epoch(path: str) -> int | None:
    """The epoch a file says it was written at (to name a torn checkpoint's odd part), or None."""
    try:
        if path.endswith(".npz"):
            with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
                return int(json.loads(str(data[_INFO]))["epoch"])
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if "history" in data:
            return len(data["history"]["epoch"])
        return int(data["epoch"])
    except Exception:  # noqa: BLE001 - a file that does not say: the caller reports its size or hash
        return None


def _verify(directory: str, manifest: dict, name: str) -> str:
    """The path of the manifest's file ``name``, checked against its recorded size and SHA-256."""
    path = os.path.join(directory, *name.split("/"))
    entry, epoch = manifest["files"].get(name), manifest["epoch"]
    if entry is None:
        raise _problem(os.path.join(directory, "manifest.json"), f"it does not list {name}.")
    if not os.path.isfile(path):
        raise _problem(path, f"it is missing, though manifest.json lists it as written at epoch {epoch}: the "
                             "checkpoint is incomplete or torn (parts from different saves). Resume from an intact "
                             "one or train again.")
    size = os.path.getsize(path)
    if size == entry["bytes"] and _digest(path) == entry["sha256"]:
        return path
    own = _own_epoch(path)
    if own is not None and own != epoch:
        raise _problem(path, f"it was written at epoch {own}, but the checkpoint (manifest.json) is of epoch {epoch}: "
                             "its files come from different saves (a torn checkpoint). Resume from an intact one, "
                             "such as the other epoch_* directory, or train again.")
    change = (f"it has {size} bytes; {entry['bytes']} were written" if size != entry["bytes"] else
              "its SHA-256 differs from the one recorded")
    raise _problem(path, f"{change} at epoch {epoch} (manifest.json): it was truncated, corrupted or replaced after "
                         "the save. Resume from an intact checkpoint or train again.")


def _load_npz(path: str, tree: str, epoch: int) -> dict[str, np.ndarray]:
    try:  # the file handle is ours, so it is closed also when NumPy fails half-way
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError):
        # NumPy's own message for a file that is not a zip suggests allow_pickle=True: never do that here.
        raise _problem(path, "it is not a readable .npz file of arrays (truncated or corrupted); write the "
                             "checkpoint again or resume from an earlier one.") from None
    try:
        info = json.loads(str(arrays.pop(_INFO)))
        written, saved_tree = int(info["epoch"]), info["tree"]
    except (KeyError, ValueError, TypeError):
        raise _problem(path, f"it has no readable {_INFO} entry: it is not a tree of a jaxloss checkpoint.") from None
    if saved_tree != tree:
        raise _problem(path, f"it holds the tree {saved_tree!r}, not {tree!r}.")
    if written != epoch:
        raise _problem(path, f"it was written at epoch {written}, but the checkpoint (manifest.json) is of epoch "
                             f"{epoch}: its files come from different saves (a torn checkpoint).")
    return arrays


def _load_orbax(path: str, epoch: int) -> dict[str, dict[str, np.ndarray]]:
    ocp = _orbax()
    try:
        with _orbax_checkpointer(ocp, jax.process_index()) as checkpointer:
            item = checkpointer.restore(path)
    except Exception as err:  # noqa: BLE001 - orbax's errors vary by what is wrong; name the directory
        raise _problem(path, f"orbax could not read it ({type(err).__name__}: {str(err)[:300]}).") from None
    if not isinstance(item, dict) or "epoch" not in item or not isinstance(item.get("trees"), dict):
        raise _problem(path, "it is not the arrays of a jaxloss checkpoint.")
    if int(np.asarray(item["epoch"])) != epoch:
        raise _problem(path, f"it was written at epoch {int(np.asarray(item['epoch']))}, but the checkpoint "
                             f"(manifest.json) is of epoch {epoch}: its parts come from different saves (torn).")
    trees = {}
    for tree in TREES:
        arrays = item["trees"].get(tree, {})
        if not isinstance(arrays, dict):
            raise _problem(path, f"its {tree} is a {type(arrays).__name__}, not leaves by key path.")
        trees[tree] = {k: np.asarray(v) for k, v in arrays.items()}
    return trees


def _listed(path: str, what: str, arrays: dict[str, np.ndarray], names: dict[str, str]) -> dict[str, np.ndarray]:
    """The arrays, once they are the ones manifest.json lists (it and they were written together)."""
    if set(arrays) != set(names):
        odd = sorted(set(arrays) ^ set(names))
        raise _problem(path, f"its {what} and manifest.json's list of its leaves differ at {_show(odd)}: they come "
                             "from different saves.")
    return arrays


def _load_meta(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
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
    """Reads a checkpoint of ``fit(checkpoint_dir=...)`` in either backend; ``like`` holds the run's trees
    as templates. Raises naming the file and what differs (see the module's docstring)."""
    directory = _locate(os.path.abspath(os.fspath(directory)))
    manifest_path = os.path.join(directory, "manifest.json")
    manifest = _load_manifest(manifest_path)
    epoch = manifest["epoch"]
    if epoch > epochs:
        raise _problem(manifest_path, f"it was written after epoch {epoch}, beyond this run's epochs={epochs}.")
    state_path = _verify(directory, manifest, "state.json")
    meta = _load_meta(state_path)
    if meta["epoch"] != epoch:
        raise _problem(state_path, f"it was written at epoch {meta['epoch']}, but the checkpoint (manifest.json) is of "
                                   f"epoch {epoch}: its files come from different saves (a torn checkpoint).")
    history_path = _verify(directory, manifest, "history.json")
    try:
        history = History.from_json(history_path)
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as err:
        raise _problem(history_path, f"it is not a History written by fit ({err}).") from None
    if history.epochs != epoch:
        raise _problem(history_path, f"it records {history.epochs} epochs; the checkpoint (manifest.json) is of epoch "
                                     f"{epoch}.")
    trees = {}
    if manifest["backend"] == "orbax":
        root = os.path.join(directory, _ORBAX_DIR)
        for name in manifest["files"]:
            if name.startswith(_ORBAX_DIR + "/"):
                _verify(directory, manifest, name)
        if not any(name.startswith(_ORBAX_DIR + "/") for name in manifest["files"]):
            raise _problem(manifest_path, f"it lists no file of the orbax directory {_ORBAX_DIR}/.")
        stored = _load_orbax(root, epoch)
        for tree in TREES:
            names = manifest["trees"][tree]
            trees[tree] = _match(root, tree, _listed(root, tree, stored[tree], names), names, like[tree])
    else:
        for tree in TREES:
            path = _verify(directory, manifest, tree + ".npz")
            names = manifest["trees"][tree]
            arrays = _listed(path, tree, _load_npz(path, tree, epoch), names)
            trees[tree] = _match(path, tree, arrays, names, like[tree])
    return {**meta, **trees, "history": history}
