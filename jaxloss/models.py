"""The model contract: what ``fit``, objectives and the inspector call to turn inputs into predictions.

One contract, :class:`Model`::

    apply(params, state, inputs, *, key, train) -> (predictions, state)

* ``params``: the trainable pytree, what the optimizer updates and regularizers see;
* ``state``: non-trainable variables the forward pass may update (BatchNorm's running statistics);
  ``()`` for a model without any;
* ``key``: a ``jax.random`` key for this call (dropout), or None;
* ``train``: True in a training step (dropout on, BatchNorm normalises with the batch statistics and
  updates its running averages), False when evaluating.

:func:`as_model` lifts the three kinds of model jaxloss takes to it:

* **a plain function** ``model(params, inputs) -> predictions``. If it declares a keyword ``key`` or
  ``train`` (``def model(params, inputs, *, key=None, train=False)``), it receives them;
* **a flax nnx module** (optional dependency): ``nnx.Param`` variables are the parameters, every other
  variable but the RNG streams is the state; each call re-seeds the module's RNG streams from ``key``
  and runs it in ``.train()`` or ``.eval()`` mode. The module you pass is never modified;
* **an equinox module**, or the pair ``(module, state)`` that ``eqx.nn.make_with_state`` returns
  (optional dependency): the parameters are its inexact arrays (``eqx.is_inexact_array``); as equinox
  modules take one example, it is called under ``jax.vmap(..., axis_name="batch")`` (so
  ``eqx.nn.BatchNorm(..., axis_name="batch")`` works) with one key per example, and
  ``eqx.nn.inference_mode`` selects evaluation. ``equinox_model(module, batched=True)`` is for a
  module that takes whole batches.

``model.rebuild(params, state)`` gives back a new object of the kind you passed (the nnx module, the
equinox module or ``(module, state)`` pair, or None for a plain function) holding those values, in
evaluation mode (nnx ``.eval()``, ``eqx.nn.inference_mode``) and sharing no mutable variable with them:
what ``FitResult.model`` returns.

flax and equinox are optional and imported only by :func:`nnx_model` and :func:`equinox_model`:
:func:`is_module` recognises their modules without importing them, so a plain function never does.

>>> import jax.numpy as jnp
>>> from jaxloss.models import as_model
>>> m = as_model(lambda params, inputs: inputs * params["w"], {"w": jnp.array(2.0)})
>>> predictions, state = m.apply(m.params, m.state, jnp.arange(3.0), key=None, train=True)
>>> predictions.tolist(), state
([0.0, 2.0, 4.0], ())
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import sys
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxloss._arguments import callable_argument, flag_argument, text_argument

__all__ = ["Model", "as_model", "function_model", "nnx_model", "equinox_model", "is_module"]


@dataclasses.dataclass(frozen=True, eq=False)
class Model:
    """A model under the contract ``apply(params, state, inputs, *, key, train) -> (predictions, state)``.

    Attributes:
      apply: the pure forward function of the contract.
      params: the initial trainable parameters (a pytree).
      state: the initial non-trainable state (a pytree; ``()`` when there is none).
      rebuild: ``rebuild(params, state)`` -> a new object of the user's kind holding those values, in
        evaluation mode and sharing no mutable variable with them (None for plain functions).
      cache_key: a hashable value that identifies ``apply`` (two models with equal keys compute the
        same function), so compiled programs are reused; None means "this object only".
      name: for messages.
    """

    apply: Callable[..., tuple[Any, Any]]
    params: Any = None
    state: Any = ()
    rebuild: Callable[[Any, Any], Any] | None = None
    cache_key: Any = None
    name: str = "model"

    def __post_init__(self) -> None:
        callable_argument("Model", "apply", self.apply, "the forward function apply(params, state, inputs, *, key, "
                          "train) -> (predictions, state)")
        if self.rebuild is not None:
            callable_argument("Model", "rebuild", self.rebuild, "a function rebuild(params, state) or None")
        text_argument("Model", "name", self.name, optional=False)

    def __repr__(self) -> str:
        return f"Model({self.name})"

    def predict(self, params: Any, inputs: Any, *, state: Any = None, key: Any = None, train: bool = False) -> Any:
        """The predictions alone (state from the model unless given; evaluation mode by default)."""
        return self.apply(params, self.state if state is None else state, inputs, key=key, train=train)[0]

    @property
    def identity(self) -> Any:
        """What compiled programs are cached on: the cache key, or this object."""
        if self.cache_key is None:
            return self
        try:
            hash(self.cache_key)
        except TypeError:
            return self
        return self.cache_key


def _keywords(fn: Callable[..., Any]) -> set[str]:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins and some callables have no signature
        return set()
    return {name for name in ("key", "train") if name in params}


#: What a model argument may be, for messages.
MODEL_KINDS = ("a function model(params, inputs) -> predictions, a flax nnx or equinox module, an equinox "
               "(module, state) pair, or a jaxloss.models.Model")


def model_argument(fn: str, argument: str, value: Any) -> Any:
    """``value`` if it is a model :func:`as_model` takes (see :data:`MODEL_KINDS`), else a ``TypeError`` naming
    ``fn`` and ``argument``. Nothing is built: modules are recognised by their type."""
    if value is None:
        raise TypeError(f"{fn}: {argument} is None; pass {MODEL_KINDS}.")
    if not callable(value) and not is_module(value):
        hint = " (a model is the function itself, not its name)" if isinstance(value, str) else ""
        raise TypeError(f"{fn}: {argument} must be {MODEL_KINDS}; got {_brief(value)}{hint}.")
    return value


def _brief(value: Any) -> str:
    """The type and a short repr of ``value``, for messages (a module's repr may be its whole tree)."""
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def function_model(fn: Callable[..., Any], params: Any = None) -> Model:
    """A plain function ``fn(params, inputs)`` (optionally with keywords ``key``, ``train``) as a Model."""
    callable_argument("function_model", "fn", fn, "a function model(params, inputs) -> predictions")
    keywords = frozenset(_keywords(fn))

    def apply(params: Any, state: Any, inputs: Any, *, key: Any = None, train: bool = False) -> tuple[Any, Any]:
        options = {"key": key, "train": train}
        return fn(params, inputs, **{k: options[k] for k in keywords}), state

    return Model(apply, params, (), None, ("function", fn, keywords), getattr(fn, "__name__", "model"))


# -- flax nnx and equinox: optional, imported by their adapters only ------------------------------


def _loaded(name: str) -> Any:
    """The module ``name`` if it is already imported, else None: a caller holding an nnx or equinox module
    has imported flax.nnx or equinox, so recognising one never imports them (3 s for a plain function)."""
    return sys.modules.get(name)


def _require(fn: str, argument: str, name: str, package: str) -> Any:
    """``import name`` for an adapter, or an ``ImportError`` naming ``fn``, ``argument`` and what to install."""
    try:
        return importlib.import_module(name)
    except ImportError as err:  # pragma: no cover - only without the optional dependency
        raise ImportError(f"{fn}: {argument} needs the optional package {package}, which is not installed: "
                          f"pip install {package}") from err


def is_module(model: Any) -> bool:
    """Whether ``model`` is a :class:`Model`, a flax nnx or equinox module, or an equinox (module, state) pair.

    Imports neither flax nor equinox: an nnx or equinox module can only exist once its library is imported.
    """
    if isinstance(model, Model):
        return True
    nnx, eqx = _loaded("flax.nnx"), _loaded("equinox")
    if nnx is not None and isinstance(model, nnx.Module):
        return True
    if eqx is not None:
        if isinstance(model, eqx.Module):
            return True
        if (isinstance(model, tuple) and len(model) == 2 and isinstance(model[0], eqx.Module)
                and isinstance(model[1], eqx.nn.State)):
            return True
    return False


def _copy(tree: Any) -> Any:
    """The same values in new containers (new nnx Variables, dicts, lists; JAX arrays are immutable)."""
    return jax.tree.map(lambda x: x, tree)


def _is_key(x: Any) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _stream_key(key: Any, shape: tuple[int, ...]) -> Any:
    return key if shape == () else jax.random.split(key, shape)


def _reseed(rng_state: Any, key: Any) -> Any:
    """Every RNG stream key of ``rng_state`` replaced by ``fold_in(key, i)``, every counter set to 0."""
    leaves, treedef = jax.tree.flatten(rng_state)
    if key is None:
        return jax.tree.unflatten(treedef, leaves)  # fresh Variable objects all the same (see nnx_model)
    new = [_stream_key(jax.random.fold_in(key, i), leaf.shape) if _is_key(leaf) else jnp.zeros_like(leaf)
           for i, leaf in enumerate(leaves)]
    return jax.tree.unflatten(treedef, new)


def nnx_model(module: Any) -> Model:
    """A flax nnx module as a :class:`Model` (see the module docstring). The module is not modified."""
    nnx = _require("nnx_model", "module", "flax.nnx", "flax")
    if not isinstance(module, nnx.Module):
        raise TypeError(f"nnx_model: module must be a flax.nnx.Module (for a plain function use "
                        f"function_model(fn, params)); got {_brief(module)}.")
    _, params, rngs, state = nnx.split(module, nnx.Param, nnx.RngState, ...)
    modes = {}
    for train in (True, False):
        copy = nnx.clone(module)
        copy.train() if train else copy.eval()
        modes[train] = nnx.split(copy, nnx.Param, nnx.RngState, ...)[0]

    def apply(params: Any, state: Any, inputs: Any, *, key: Any = None, train: bool = False) -> tuple[Any, Any]:
        # Fresh Variable objects: nnx lets a module mutate only variables made in the current trace.
        params, state = _copy((params, state))
        live = nnx.merge(modes[bool(train)], params, _reseed(rngs, key), state)
        predictions = live(inputs)
        return predictions, nnx.split(live, nnx.Param, nnx.RngState, ...)[3]

    def rebuild(params: Any, state: Any) -> Any:
        # New Variables: nnx.merge would share them, and a call in training mode updates them in place.
        return nnx.merge(modes[False], *_copy((params, rngs, state)))

    return Model(apply, params, state, rebuild, ("nnx", modes[True], modes[False]), type(module).__name__)


# -- equinox ----------------------------------------------------------------------------------------


def equinox_model(module: Any, state: Any = None, *, batched: bool = False, axis_name: str = "batch") -> Model:
    """An equinox module (with its ``eqx.nn.State``, if any) as a :class:`Model`.

    Args:
      module: an ``equinox.Module`` whose ``__call__`` takes one example (``x``), then ``state`` if
        the model has one, and optionally a keyword ``key``.
      state: the ``eqx.nn.State`` from ``eqx.nn.make_with_state``, or None.
      batched: the module takes whole batches (no ``vmap``; it receives one key).
      axis_name: the ``vmap`` axis name (what ``eqx.nn.BatchNorm(axis_name=...)`` names).
    """
    flag_argument("equinox_model", "batched", batched)
    text_argument("equinox_model", "axis_name", axis_name, optional=False)
    eqx = _require("equinox_model", "module", "equinox", "equinox")
    if not isinstance(module, eqx.Module):
        raise TypeError(f"equinox_model: module must be an equinox.Module (for a plain function use "
                        f"function_model(fn, params)); got {_brief(module)}.")
    params, static = eqx.partition(module, eqx.is_inexact_array)
    takes_key = "key" in _keywords(module.__call__)
    stateful = state is not None

    def apply(params: Any, state: Any, inputs: Any, *, key: Any = None, train: bool = False) -> tuple[Any, Any]:
        live = eqx.nn.inference_mode(eqx.combine(params, static), value=not train)

        def call(x: Any, s: Any, k: Any) -> tuple[Any, Any]:
            options = {"key": k} if takes_key else {}
            if stateful:
                return live(x, s, **options)
            return live(x, **options), s

        if batched:
            return call(inputs, state, key)
        n = jax.tree.leaves(inputs)[0].shape[0]
        keys = None if key is None or not takes_key else jax.random.split(key, n)
        return jax.vmap(call, in_axes=(0, None, None if keys is None else 0), out_axes=(0, None),
                        axis_name=axis_name)(inputs, state, keys)

    def rebuild(params: Any, state: Any) -> Any:
        trained = eqx.nn.inference_mode(eqx.combine(params, static), value=True)
        return (trained, _copy(state)) if stateful else trained

    leaves, treedef = jax.tree.flatten(static)
    key = ("equinox", treedef, tuple(leaves), takes_key, stateful, batched, axis_name)
    return Model(apply, params, state if stateful else (), rebuild, key, type(module).__name__)


def as_model(model: Any, params: Any = None) -> Model:
    """``model`` under the :class:`Model` contract (a Model, an nnx or equinox module, or a function).

    ``params`` is required for a plain function and must be None for the others (their parameters
    are inside them).
    """
    model_argument("as_model", "model", model)
    if isinstance(model, Model):
        if params is not None:
            return dataclasses.replace(model, params=params)
        return model
    if is_module(model):
        if params is not None:
            raise TypeError(
                f"a {type(model).__name__} module holds its own parameters: call fit(module, loss, train, ...) "
                "without a params argument.")
        if isinstance(model, tuple):
            return equinox_model(*model)
        nnx = _loaded("flax.nnx")
        if nnx is not None and isinstance(model, nnx.Module):
            return nnx_model(model)
        return equinox_model(model)
    return function_model(model, params)


def __dir__() -> list[str]:  # the public API only (not the modules this one imports)
    return sorted(__all__)
