"""Toy problems: a small problem on which each loss makes sense, and gradient descent on every loss.

>>> import jaxloss as jl
>>> problem = jl.toy_problem("huber")            # a loss name, or a kind such as "regression_outliers"
>>> problem.kind, problem.loss.func.__name__
('regression_outliers', 'huber')
>>> result = problem.fit(progress=False)
>>> bool(result.history["loss"][-1] < result.history["loss"][0])
True

Every registry entry names its toy-problem kind (``LossInfo.toy_problem``, an object from
``jaxloss._kinds.problems``; :data:`KINDS` finds one by name); nothing here lists losses. There are two
sorts of problems:

* **Data problems** (regression with and without outliers, positive targets, counts, balanced and
  imbalanced binary, multiclass with clean or noisy labels, soft-label distributions, multi-label):
  synthetic features, a linear model ``model(params, inputs)`` and held-out validation data. The
  loss's *input kind* (``LossInfo.inputs``: its ``toy_targets`` and ``toy_model``) adapts the targets
  and the model's output: ``{-1, +1}`` targets for ``signed_binary`` losses (hinge), log-probabilities
  for ``class_log_probs`` (nll), a positive output for positive-target losses.
* **Prediction problems** (ranking, embeddings, metric learning, segmentation, sequences, and any
  loss whose inputs a data problem cannot feed): the parameters *are* the predictions, one row per
  example, initialised at random; the targets are the loss's own example inputs
  (``InputKind.random``). ``model(params, indices)`` looks the rows up, so ``fit`` runs plain
  gradient descent in prediction space: the clearest picture of what a loss asks of its outputs.

:func:`train_catalog` trains every registered loss on its problem and returns the results.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxloss import _kinds, _registry
from jaxloss._arguments import flag_argument, integer_argument
from jaxloss._kinds import problems
from jaxloss._kinds._models import linear, log_softmax_linear, lookup, positive_linear
from jaxloss._kinds.problems import ToyKind
from jaxloss._registry import Task
from jaxloss.train import FitResult, fit

__all__ = ["ToyProblem", "toy_problem", "train_catalog", "KINDS"]

# Shared optimizer objects, so that the compiled epoch programs are reused across calls.
_ADAM = optax.adam(5e-2)
_ADAM_FAST = optax.adam(1e-1)


@dataclasses.dataclass
class ToyProblem:
    """A small problem for one loss: data, model, initial parameters and training settings.

    ``fit(**overrides)`` trains it with :func:`jaxloss.fit` (overrides replace the suggestions).
    """

    name: str | None  # the loss's name (None for a kind without a loss)
    kind: str
    description: str
    train: tuple[Any, Any]
    val: tuple[Any, Any] | None
    model: Callable[[Any, Any], Any]
    params: Any
    loss: Callable[..., jax.Array] | None
    optimizer: optax.GradientTransformation
    epochs: int
    batch_size: int
    metrics: tuple[str, ...] = ()

    def fit(self, **overrides: Any) -> FitResult:
        if self.loss is None:
            raise ValueError(f"toy problem {self.kind!r} has no loss; pass loss=...")
        options = dict(optimizer=self.optimizer, epochs=self.epochs, batch_size=self.batch_size, val=self.val,
                       metrics=self.metrics)
        options.update(overrides)
        loss = options.pop("loss", self.loss)
        return fit(self.model, self.params, loss, self.train, **options)


@dataclasses.dataclass(frozen=True)
class _Constant:
    """A fixed array option of a toy problem's loss (a linear head's weight), hashable by its bytes."""

    shape: tuple[int, ...]
    dtype: str
    data: bytes

    @classmethod
    def of(cls, array: Any) -> _Constant:
        a = np.ascontiguousarray(array)
        return cls(a.shape, a.dtype.str, a.tobytes())

    def value(self) -> np.ndarray:
        return np.frombuffer(self.data, self.dtype).reshape(self.shape)


@dataclasses.dataclass(frozen=True)
class Spread:
    """A loss called with predictions and targets spread into its positional arguments.

    ``Spread(fn, positions, options)(predictions, targets)`` calls ``fn`` with ``predictions[j]`` at
    position ``positions[j]`` and the targets, in order, in the other positions, plus ``options``.
    Hashable, so ``fit`` reuses its compiled program.
    """

    fn: Callable[..., jax.Array]
    positions: tuple[int, ...]
    options: tuple[tuple[str, Any], ...] = ()
    keyword_targets: tuple[str, ...] = ()  # the last targets are passed as these keywords

    def __call__(self, predictions: Any, targets: Any) -> jax.Array:
        predictions, targets = list(predictions), list(targets)
        keywords = {k: v.value() if isinstance(v, _Constant) else v for k, v in self.options}
        if self.keyword_targets:
            keywords.update(zip(self.keyword_targets, targets[-len(self.keyword_targets):]))
            targets = targets[: -len(self.keyword_targets)]
        args = [predictions.pop(0) if i in self.positions else targets.pop(0)
                for i in range(len(predictions) + len(targets))]
        return self.fn(*args, **keywords)

    @property
    def __name__(self) -> str:  # for repr and messages
        return getattr(self.fn, "__name__", "loss")


# -- data problems ----------------------------------------------------------------------------------


def _split(x: np.ndarray, y: Any, n_train: int) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


#: The toy-problem kinds by name (the objects live in ``jaxloss._kinds.problems``; losses name them there).
KINDS: dict[str, ToyKind] = {kind.name: kind for kind in problems.ALL}


def _data_problem(entry: _registry.LossInfo | None, kind: ToyKind, seed: int, fast: bool) -> ToyProblem:
    rng = np.random.default_rng(seed)
    n_train, n_val = (64, 32) if fast else (512, 256)
    data = kind.make(rng, n_train + n_val)  # type: ignore[misc]
    input_kind = entry.inputs if entry is not None else kind.feeds[0]
    model = input_kind.toy_model
    y = input_kind.toy_targets(data.y)
    d = data.x.shape[1]
    w_shape = (d,) if data.outputs == 1 else (d, data.outputs)
    # Small random weights, not zeros: w = 0 is a stationary point of margin-free losses (the perceptron
    # costs exactly 0 there and never moves), as it is for symmetric networks.
    init = np.random.default_rng(seed + 1)
    params = {"w": jnp.asarray(0.1 * init.normal(size=w_shape), jnp.float32), "b": jnp.zeros(w_shape[1:], jnp.float32)}
    if model is positive_linear:
        params["b"] = params["b"] + 1.0
    train, val = _split(data.x, y, n_train)
    metrics = tuple(kind.metrics)
    if entry is not None and entry.task is Task.BINARY and input_kind is _kinds.BINARY_LOGITS:
        metrics += ("auc",)
    return ToyProblem(
        name=entry.name if entry else None, kind=kind.name, description=kind.description,
        train=train, val=None if fast else val, model=model, params=params, loss=_loss_with_defaults(entry),
        optimizer=_ADAM_FAST if fast else _ADAM, epochs=5 if fast else 60,
        batch_size=n_train if fast else 64, metrics=() if fast else metrics)


def _loss_with_defaults(entry: _registry.LossInfo | None) -> Any:
    if entry is None:
        return None
    return _bound(entry.fn)


@functools.lru_cache(maxsize=None)
def _bound(fn: Callable[..., Any]) -> Any:
    # One object per loss, so that fit's compile cache is reused across toy_problem calls.
    return functools.partial(fn)


def _prediction_problem(entry: _registry.LossInfo, kind: ToyKind, seed: int, fast: bool) -> ToyProblem:
    n = 8 if fast else 32
    rng = np.random.default_rng(seed)
    sample = entry.inputs.random(rng, n)
    positions = tuple(i for i in entry.differentiable_args
                      if np.issubdtype(np.asarray(sample.args[i]).dtype, np.floating))
    rows = {int(np.shape(a)[0]) for a in sample.args}
    if len(rows) != 1:
        raise ValueError(f"toy_problem: the inputs of {entry.name!r} (kind {entry.inputs.name!r}) do not all have "
                         f"the examples on axis 0 (sizes {sorted(rows)}); add a data problem for it in "
                         "jaxloss/toys.py.")
    n = rows.pop()
    init = np.random.default_rng(seed + 1)
    params = tuple(jnp.asarray(init.normal(size=np.shape(sample.args[i])), jnp.float32) for i in positions)
    targets = tuple(jnp.asarray(a, jnp.float32) if np.issubdtype(np.asarray(a).dtype, np.floating)
                    else jnp.asarray(a) for i, a in enumerate(sample.args) if i not in positions)
    # Per-example keyword arrays (paddings, masks) travel with the targets, so batches stay aligned.
    per_example = tuple(k for k, v in sorted(sample.kwargs.items()) if np.ndim(v) and np.shape(v)[0] == n)
    options = tuple((k, _Constant.of(v) if isinstance(v, np.ndarray) else v)
                    for k, v in sorted(sample.kwargs.items()) if k not in per_example)
    targets = targets + tuple(jnp.asarray(sample.kwargs[k]) for k in per_example)
    try:
        loss = _spread(entry.fn, positions, options, per_example)
    except TypeError:  # an unhashable option: fit compiles this loss afresh on each call
        loss = Spread(entry.fn, positions, options, per_example)
    indices = jnp.arange(n)
    return ToyProblem(
        name=entry.name, kind=kind.name,
        description=kind.description if kind.make is None else f"free predictions for {entry.inputs.name!r} inputs",
        train=(indices, targets), val=None, model=lookup, params=params, loss=loss,
        optimizer=_ADAM_FAST, epochs=5 if fast else 100, batch_size=n)


@functools.lru_cache(maxsize=None)
def _spread(fn: Callable[..., Any], positions: tuple[int, ...], options: tuple, keyword_targets: tuple) -> Spread:
    return Spread(fn, positions, options, keyword_targets)


def toy_problem(name_or_kind: str, *, seed: int = 0, fast: bool = False) -> ToyProblem:
    """The toy problem of a loss (by name or alias) or of a toy-problem kind.

    Given a loss, the problem is its registry kind (``jl.info(name).toy_problem``), adapted to its
    input kind, with the loss at its default options. Given a kind (a key of :data:`KINDS`), the
    problem comes with the first registered loss of that kind (or none). ``fast=True`` makes the data
    tiny and suggests 5 full-batch epochs (for tests).

    Raises:
      KeyError: neither a loss nor a known kind (the message lists both).
      TypeError, ValueError: another argument is not what it should be (the message names it).
    """
    seed = integer_argument("toy_problem", "seed", seed, low=0, meaning=" (it seeds NumPy's generator)")
    fast = flag_argument("toy_problem", "fast", fast)
    entry: _registry.LossInfo | None
    if not isinstance(name_or_kind, str) and not callable(name_or_kind):
        raise TypeError(f"toy_problem: name_or_kind must be a loss name (e.g. 'huber') or a toy-problem kind (e.g. "
                        f"'regression'); got {type(name_or_kind).__name__} {name_or_kind!r}.")
    try:
        entry = _registry.info(name_or_kind)
        kind = entry.toy_problem
    except KeyError:
        if not isinstance(name_or_kind, str) or name_or_kind not in KINDS:
            close = difflib.get_close_matches(name_or_kind, [*KINDS, *(e.name for e in _registry.catalog())], n=3,
                                              cutoff=0.6) if isinstance(name_or_kind, str) else []
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise KeyError(
                f"toy_problem: name_or_kind={name_or_kind!r} is neither a registered loss nor a toy-problem kind."
                f"{hint} Kinds: {', '.join(sorted(KINDS))}. Losses: see jaxloss.catalog()."
            ) from None
        kind = KINDS[name_or_kind]
        entry = next((e for e in _registry.catalog() if e.toy_problem is kind), None)
    if kind.make is not None and (entry is None or any(entry.inputs is k for k in kind.feeds)):
        return _data_problem(entry, kind, seed, fast)
    if entry is None:
        raise ValueError(f"toy_problem: kind {kind.name!r} has no registered loss to build its problem from.")
    return _prediction_problem(entry, kind, seed, fast)


@dataclasses.dataclass(frozen=True)
class _Group:
    """Several losses trained side by side, each on its own copy of the parameters.

    An objective ``sum_name loss_name(model(params[name], inputs), targets)``: the gradient with
    respect to ``params[name]`` is that loss's gradient alone, and optax's optimizers act coordinate
    by coordinate, so every copy follows exactly the trajectory it would follow alone; ``with_terms``
    gives ``fit`` each loss's value, recorded as ``history["loss/<name>"]``. One compiled program
    trains the group.
    """

    model: Callable[..., Any]
    losses: tuple[tuple[str, Any], ...]
    is_objective: bool = True

    def with_terms(self, params: Any, batch: Any) -> tuple[jax.Array, dict[str, jax.Array]]:
        inputs, targets = batch
        parts = {name: jnp.asarray(loss(self.model(params[name], inputs), targets), jnp.float32)
                 for name, loss in self.losses}
        return sum(parts.values()), parts

    def __call__(self, params: Any, batch: Any) -> jax.Array:
        return self.with_terms(params, batch)[0]


def train_catalog(*, epochs: int | None = None, fast: bool = False, names: Sequence[str] | None = None,
                  seed: int = 0, **fit_options: Any) -> dict[str, Any]:
    """Trains every registered loss (or ``names``) on its toy problem; returns name -> History.

    Losses whose problems share data and model (same kind, same input kind) are trained together in
    one compiled program, each on its own copy of the parameters (see :class:`_Group`: the result is
    the one each would reach alone); ``history["loss"]`` of each returned History is that loss's
    training loss (validation losses under ``"val_loss"``). When every problem is full-batch with
    the same optimizer and epochs (``fast=True``), all groups train in a single program (see
    :class:`_Catalog`). A non-finite loss stops its whole program (the History's ``status`` and
    ``message`` attributes say why). ``epochs`` overrides the suggested number of epochs; ``fast``
    uses tiny data (see :func:`toy_problem`); other keywords go to :func:`jaxloss.fit`.
    """
    from jaxloss.train import History

    if epochs is not None:
        epochs = integer_argument("train_catalog", "epochs", epochs, low=0)
    fast = flag_argument("train_catalog", "fast", fast)
    seed = integer_argument("train_catalog", "seed", seed, low=0, meaning=" (it seeds NumPy's generator)")
    if names is not None and (isinstance(names, (str, bytes)) or not isinstance(names, Sequence)):
        example = f"names=[{names!r}]" if isinstance(names, str) else "names=['mse', 'huber']"
        raise TypeError(f"train_catalog: names must be a list of loss names, e.g. {example}; got "
                        f"{type(names).__name__} {names!r}.")
    selected = [e.name for e in _registry.catalog()] if names is None else [
        _registry.lookup(n, fn="train_catalog", argument=f"names[{i}]").name for i, n in enumerate(names)]
    groups: dict[tuple[str, str], list[tuple[str, ToyProblem]]] = {}  # by (toy kind, input kind)
    for name in selected:
        problem = toy_problem(name, seed=seed, fast=fast)
        groups.setdefault((problem.kind, _registry.info(name).inputs.name), []).append((name, problem))
    options = {"progress": False, **fit_options}
    if epochs is not None:
        options["epochs"] = epochs
    runs = []  # (fit result, loss names)
    firsts = [members[0][1] for members in groups.values()]
    if _full_batch(firsts, options):
        # Every problem is one full batch with the same optimizer and epochs: one program for all.
        catalog = _catalog(tuple((members[0][1].model, tuple((name, p.loss) for name, p in members))
                                 for members in groups.values()))
        one = functools.partial(jax.tree.map, lambda a: jnp.asarray(a)[None])  # a set of one example
        train = (tuple(one(p.train[0]) for p in firsts), tuple(one(p.train[1]) for p in firsts))
        params = {name: p.params for members in groups.values() for name, p in members}
        fitted = fit(_no_model, params, catalog, train, **{"optimizer": firsts[0].optimizer,
                                                            "epochs": firsts[0].epochs, "batch_size": 1, **options})
        runs.append((fitted, selected))
    else:
        for members in groups.values():
            first = members[0][1]
            group = _group(first.model, tuple((name, p.loss) for name, p in members))
            params = {name: p.params for name, p in members}
            fitted = fit(first.model, params, group, first.train,
                         **{"optimizer": first.optimizer, "epochs": first.epochs, "batch_size": first.batch_size,
                            "val": first.val, **options})
            runs.append((fitted, [name for name, _ in members]))
    results: dict[str, Any] = {}
    for fitted, names_run in runs:
        for name in names_run:
            values = {"epoch": fitted.history["epoch"], "loss": fitted.history["loss/" + name]}
            if "val_loss/" + name in fitted.history:
                values["val_loss"] = fitted.history["val_loss/" + name]
            history = History(values, monitor="loss")
            history.status, history.message = fitted.status, fitted.message  # type: ignore[attr-defined]
            results[name] = history
    return {name: results[name] for name in selected}


@functools.lru_cache(maxsize=None)
def _group(model: Callable[..., Any], losses: tuple) -> _Group:
    return _Group(model, losses)


@dataclasses.dataclass(frozen=True)
class _Catalog:
    """Several groups on their own data, trained as one objective on a data set of one example.

    The example holds every group's whole training set (a leading axis of length 1), so one step is
    one full-batch step of every group: the same trajectories as separate full-batch runs.
    """

    groups: tuple[tuple[Callable[..., Any], tuple[tuple[str, Any], ...]], ...]
    is_objective: bool = True

    def with_terms(self, params: Any, batch: Any) -> tuple[jax.Array, dict[str, jax.Array]]:
        inputs, targets = jax.tree.map(lambda a: a[0], batch)
        parts: dict[str, jax.Array] = {}
        for (model, losses), x, y in zip(self.groups, inputs, targets):
            parts.update(_Group(model, losses).with_terms(params, (x, y))[1])
        return sum(parts.values()), parts

    def __call__(self, params: Any, batch: Any) -> jax.Array:
        return self.with_terms(params, batch)[0]


@functools.lru_cache(maxsize=None)
def _catalog(groups: tuple) -> _Catalog:
    return _Catalog(groups)


def _no_model(params: Any, inputs: Any) -> Any:  # fit's model argument where only an objective is used
    raise TypeError("train_catalog: the catalog objective has no model to predict with (no metrics).")


def _full_batch(problems: Sequence[ToyProblem], options: dict) -> bool:
    """Whether every problem trains full-batch, without validation, with one optimizer and epoch count."""
    if any(k in options for k in ("batch_size", "val", "metrics", "optimizer")) or len(problems) < 2:
        return False
    return (all(p.batch_size == jax.tree.leaves(p.train)[0].shape[0] and p.val is None and not p.metrics
                for p in problems)
            and len({id(p.optimizer) for p in problems}) == 1 and len({p.epochs for p in problems}) == 1)


def __dir__() -> list[str]:  # the public API only (not the modules this one imports)
    return sorted(__all__)
