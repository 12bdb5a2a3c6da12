"""The registry: the one list of losses in jaxloss, with each loss's metadata.

Every loss is registered exactly once, by decorating its function with
:func:`register`, which states only what the code cannot tell: the task, the input
kind and toy problem (objects from ``jaxloss._kinds``), the formula, a one-line
summary, valid ranges of the hyperparameters, claimed properties and the reference.
The family comes from the module, defaults and keyword names from the signature, and
``register`` writes formula, ranges, properties and reference into the docstring so
``help()`` shows them. Tests, the README catalog table, the benchmarks, the
stability card and the demos all iterate over :func:`catalog`; nothing else keeps a
hand-written list of losses. This module holds the mechanism only: it imports no loss.

The decorator also validates, at call time and before any computation, what
every loss shares: ``reduction``, its array arguments (never None, a string or a
complex array), every keyword option by the kind its annotation declares
(``jaxloss/_options.py``, the machinery the metrics share: flags are True or False,
integers accept NumPy integers but never bools, an option whose default is None is
checked once given), the range of every concrete value of each declared
hyperparameter, number or array (traced values are skipped, so hyperparameters may
be traced or differentiated), and probabilities given with ``from_logits=False``
(in [0, 1]; NaN under ``jit``).
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import functools
import inspect
import textwrap
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

from jaxloss import _core, _optax_names, _options
from jaxloss._options import Hyperparameter
from jaxloss._kinds import InputKind
from jaxloss._kinds.problems import ToyKind

__all__ = ["Hyperparameter", "LossInfo", "register", "catalog", "get", "info", "PROPERTIES", "Task", "FAMILIES"]

REDUCTIONS = _core.REDUCTIONS

#: The families of losses: one private module each in ``jaxloss/losses/`` (``_<family>.py``).
FAMILIES = ("regression", "classification", "probabilistic", "robust", "margin", "ranking", "embedding",
            "segmentation", "sequence", "structured", "surrogates", "language_modelling")


class Task(str, enum.Enum):
    """What a loss is for. A ``str`` enum: ``Task.BINARY == "binary"``, for tables and filters."""

    REGRESSION = "regression"
    PROBABILISTIC_REGRESSION = "probabilistic_regression"
    QUANTILE_REGRESSION = "quantile_regression"
    COUNT_REGRESSION = "count_regression"
    BINARY = "binary"
    MULTICLASS = "multiclass"
    MULTILABEL = "multilabel"
    DISTRIBUTION = "distribution"
    NONNEGATIVE_MEASURE = "nonnegative_measure"
    RANKING = "ranking"
    EMBEDDING = "embedding"
    EMBEDDING_PAIRS = "embedding_pairs"
    EMBEDDING_TRIPLETS = "embedding_triplets"
    METRIC_LEARNING = "metric_learning"
    SELF_SUPERVISED = "self_supervised"
    SEGMENTATION = "segmentation"
    SEQUENCE = "sequence"

    def __str__(self) -> str:
        return self.value

#: The properties a loss may claim. Each one is checked numerically, for every
#: loss that claims it, by the registry-driven tests.
PROPERTIES = {
    "nonnegative": "the loss is >= 0 for every input",
    "zero_at_target": "the loss is 0 at a perfect prediction",
    "convex": "convex in the predictions",
    "bounded_gradient": "the gradient stays bounded as the error grows (robust to outliers)",
    "symmetric": "an error of +e costs the same as an error of -e",
    "proper_scoring_rule": "the expected loss is minimised by predicting the true distribution",
    "smooth": "twice differentiable everywhere",
}


@dataclasses.dataclass(frozen=True)
class LossInfo:
    """A registry entry: a loss and what it says about itself.

    Attributes:
      name: canonical name, the function's name.
      fn: the loss function itself.
      aliases: other names :func:`get` accepts.
      family: the family, from the module the loss lives in (one of :data:`FAMILIES`).
      task: what the loss is for (a :class:`Task`).
      formula: the per-example formula, in plain text (terminals, the playground, README).
      latex: the same formula in LaTeX (the documentation site renders it as MathML).
      summary: one line, "use it when ...".
      hyperparameters: option name -> :class:`Hyperparameter`.
      properties: the properties it claims (keys of :data:`PROPERTIES`).
      inputs: the kind of inputs it takes (a ``jaxloss._kinds.InputKind``), which makes test,
        benchmark and stability inputs, the inspector's curve and the toy problem's adapter.
      toy_problem: the small problem that demonstrates it in training (a ``ToyKind``).
      reference: where the definition comes from.
      differentiable_args: positional arguments that are differentiable.
      optax: name of the optax function it corresponds to, if any.
      torch: the PyTorch equivalent (``torch.nn.HuberLoss``), if any.
      keras: the Keras equivalent (``keras.losses.Huber``), if any. An equivalent has the same
        per-example math for some choice of its options; conventions (units, reductions, what the
        predictions are) may differ, and the loss's docstring says how.
      also_inputs: other input kinds it takes as well (focal: binary logits and class logits).
      options: every keyword option but ``weights``, ``where`` and ``reduction``, as declared by its
        annotation (a ``jaxloss._options.Option``: flag, integer, number, array or choice; whether
        None is allowed; the range), the one description the call-time checks read.
    """

    name: str
    fn: Callable[..., jax.Array]
    aliases: tuple[str, ...]
    family: str
    task: Task
    formula: str
    latex: str
    summary: str
    hyperparameters: Mapping[str, Hyperparameter]
    properties: frozenset[str]
    inputs: InputKind
    toy_problem: ToyKind
    reference: str = ""
    differentiable_args: tuple[int, ...] = (0,)
    optax: str | None = None
    torch: str | None = None
    keras: str | None = None
    also_inputs: tuple[InputKind, ...] = ()
    options: Mapping[str, _options.Option] = dataclasses.field(default_factory=dict)

    def __repr__(self) -> str:
        return f"LossInfo({self.name!r}, family={self.family!r}, task={self.task.value!r})"

    def accepts(self, kind: InputKind) -> bool:
        """Whether the loss takes inputs of ``kind`` (its own, or one of ``also_inputs``)."""
        return kind is self.inputs or any(kind is k for k in self.also_inputs)

    def equivalents(self) -> dict[str, str | None]:
        """The qualified name of its equivalent in optax, PyTorch and Keras (None where there is none)."""
        return {"optax": f"optax.losses.{self.optax}" if self.optax else None, "PyTorch": self.torch,
                "Keras": self.keras}

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name,) + self.aliases

    def defaults(self) -> dict[str, Any]:
        """The default value of every hyperparameter."""
        return {k: h.default for k, h in self.hyperparameters.items()}

    def takes_logits(self, options: Mapping[str, Any] | None = None) -> bool | None:
        """Whether the predictions are logits with these ``options`` (the defaults when None).

        True for scores that a sigmoid or softmax turns into probabilities (logits, margins,
        log-probabilities), False for values and probabilities, None where predictions are neither
        (embeddings, distances). A ``from_logits`` option decides for the losses that have one.
        Metrics that threshold or calibrate predictions read it (``fit`` builds them with it).
        """
        parameters = inspect.signature(self.fn).parameters
        if "from_logits" in parameters:
            flag = (options or {}).get("from_logits", parameters["from_logits"].default)
            if isinstance(flag, bool):
                return flag
        return self.inputs.logits


_ENTRIES: dict[str, LossInfo] = {}
_BY_NAME: dict[str, str] = {}


def register(
    *,
    task: Task,
    inputs: InputKind,
    toy_problem: ToyKind,
    formula: str,
    latex: str,
    summary: str,
    reference: str,
    aliases: tuple[str, ...] = (),
    hyperparameters: Mapping[str, Hyperparameter] | None = None,
    properties: tuple[str, ...] = (),
    differentiable_args: tuple[int, ...] = (0,),
    optax: str | None = None,
    torch: str | None = None,
    keras: str | None = None,
    also_inputs: tuple[InputKind, ...] = (),
) -> Callable[[Callable[..., jax.Array]], Callable[..., jax.Array]]:
    """Registers a loss function under its own name (and aliases).

    States only what the code cannot tell. The family is the module's (``jaxloss.losses._huber`` would
    be family ``"huber"``: one of :data:`FAMILIES`); each hyperparameter's default is the signature's,
    and each must be a keyword-only argument. Everything is checked when the module is imported.

    Returns a decorator. The decorated function is wrapped so that ``reduction``, flags, weights and
    the declared hyperparameters are validated before the loss runs; its signature is kept, and its
    docstring gains the formula, the valid ranges, the claimed properties, the input kind and the
    reference (and a Returns section where it has none).
    """
    hyperparameters = dict(hyperparameters or {})
    unknown = set(properties) - set(PROPERTIES)
    if unknown:
        raise ValueError(f"register: unknown properties {sorted(unknown)}; known: {sorted(PROPERTIES)}")
    if not isinstance(task, Task):
        raise TypeError(f"register: task must be a jaxloss._registry.Task; got {task!r}.")
    for kind in (inputs, *also_inputs):
        if not isinstance(kind, InputKind):
            raise TypeError(f"register: inputs must be input kinds from jaxloss._kinds; got {kind!r}.")
    if not isinstance(toy_problem, ToyKind):
        raise TypeError(f"register: toy_problem must be a jaxloss._kinds.problems.ToyKind; got {toy_problem!r}.")

    def decorate(fn: Callable[..., jax.Array]) -> Callable[..., jax.Array]:
        name = fn.__name__
        family = fn.__module__.rsplit(".", 1)[-1].lstrip("_")
        if family not in FAMILIES:
            raise ValueError(f"register: {name} lives in {fn.__module__}, which is not a family module "
                             f"(jaxloss/losses/_<family>.py with a family of {FAMILIES}).")
        parameters = inspect.signature(fn).parameters
        specs = {}
        for key, spec in hyperparameters.items():
            p = parameters.get(key)
            if p is None or p.kind is not p.KEYWORD_ONLY or p.default is p.empty:
                raise ValueError(f"register: {name} declares the hyperparameter {key!r}, which is not a keyword-only "
                                 f"argument with a default in its signature.")
            specs[key] = dataclasses.replace(spec, default=p.default)
        # Every keyword option is declared by its annotation (jaxloss/_options.py): flags, integers,
        # numbers with their ranges, arrays; an option whose default is None is checked once it is given.
        options = _options.declare(fn, ranges=specs)
        positional = tuple(k for k, p in parameters.items()
                           if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
        logits_default = parameters["from_logits"].default if "from_logits" in parameters else None

        @functools.wraps(fn)
        def loss(*args: Any, **kwargs: Any) -> jax.Array:
            reduction = kwargs.get("reduction", "mean")
            if not isinstance(reduction, str) or reduction not in REDUCTIONS:
                raise ValueError(
                    f"{name}: reduction={reduction!r} is not valid; choose one of "
                    + ", ".join(repr(r) for r in REDUCTIONS) + "."
                )
            for key, value in zip(positional, args):
                _options.check_positional(name, key, value)
            for key in positional[len(args):]:
                if key in kwargs:
                    _options.check_positional(name, key, kwargs[key])
            # Every concrete value is checked, scalar or array; traced values (a hyperparameter that is
            # scheduled or differentiated under jit) cannot be, and are the caller's responsibility.
            kwargs = _options.check(name, options, kwargs)
            if kwargs.get("weights") is not None:  # before any computation, not at the reduction
                _core.weight_array(kwargs["weights"], fn=name)
            if kwargs.get("where") is not None and not _core.is_traced(kwargs["where"]):
                _core.mask_like(kwargs["where"], fn=name)  # before any computation, as the weights
            if kwargs.get("from_logits", logits_default) is False and args:
                # Probabilities outside [0, 1] raise (NaN under jit), never clipped into a plausible number.
                # Probability vectors (a class axis: the kind's, or one more axis than the targets) are
                # poisoned whole under jit.
                vectors = inputs.example_axes > 0 or (len(args) > 1 and np.ndim(args[0]) > np.ndim(args[1]))
                args = (_core.check_probabilities(args[0], fn=name, mask=kwargs.get("where"),
                                                  name=positional[0], class_axis=vectors),) + args[1:]
            return fn(*args, **kwargs)

        entry = LossInfo(
            name=name, fn=loss, aliases=tuple(aliases), family=family, task=task,
            formula=formula, latex=latex, summary=summary, hyperparameters=specs,
            properties=frozenset(properties), inputs=inputs, toy_problem=toy_problem,
            reference=reference, differentiable_args=differentiable_args, optax=optax,
            torch=torch, keras=keras, also_inputs=tuple(also_inputs), options=options,
        )
        for key in entry.names:
            if key in _BY_NAME:
                raise ValueError(f"register: the name {key!r} is already taken by {_BY_NAME[key]!r}")
        _ENTRIES[name] = entry
        for key in entry.names:
            _BY_NAME[key] = name
        loss.__doc__ = _document(fn.__doc__ or "", entry)
        loss.info = entry  # type: ignore[attr-defined]
        return loss

    return decorate


def _returns(entry: LossInfo) -> str:
    if entry.inputs.example_axes == 0:
        shape = "the predictions' shape"
    else:
        shape = f"the predictions' shape without its last {entry.inputs.example_axes} axis" + (
            "es" if entry.inputs.example_axes > 1 else "")
    return (f"A scalar with ``reduction=\"mean\"`` (the weighted mean over the included examples, 0 if none) or "
            f"``\"sum\"``; with ``reduction=\"none\"``, one value per example: an array of {shape}, in the "
            "predictions' dtype.")


def _document(doc: str, entry: LossInfo) -> str:
    """The docstring with the registry's facts added after its Args (and a Returns section if it has none)."""
    doc = inspect.cleandoc(doc)
    sections = [("Formula", f"``{entry.formula}``" + (f" ({entry.inputs.doc})" if entry.inputs.doc else ""))]
    if entry.hyperparameters:
        sections.append(("Hyperparameters", "\n".join(
            f"{key}: {spec.describe()}, default {spec.default!r}" + (f" ({spec.doc})" if spec.doc else "")
            for key, spec in entry.hyperparameters.items())))
    if entry.properties:
        sections.append(("Properties", ", ".join(p for p in PROPERTIES if p in entry.properties)
                         + " (each checked numerically by the test suite)"))
    sections.append(("Family", f"{entry.family}; task {entry.task.value}; inputs {entry.inputs.name}"
                     + (f" (also {', '.join(k.name for k in entry.also_inputs)})" if entry.also_inputs else "")))
    equivalents = [name for name in entry.equivalents().values() if name]
    if equivalents:
        sections.append(("Equivalents", ", ".join(equivalents)))
    sections.append(("Reference", entry.reference))
    added = [f"{title}:\n{textwrap.indent(textwrap.fill(body, 96) if title != 'Hyperparameters' else body, '  ')}"
             for title, body in sections]
    if "Returns:" not in doc:
        added.insert(0, "Returns:\n" + textwrap.indent(textwrap.fill(_returns(entry), 96), "  "))
    paragraphs = doc.split("\n\n")
    at = next((i + 1 for i, p in enumerate(paragraphs) if p.lstrip().startswith(("Args:", "Returns:"))), None)
    if at is None:  # no Args section: before the first example, or at the end
        at = next((i for i, p in enumerate(paragraphs) if ">>>" in p), len(paragraphs))
    while at < len(paragraphs) and paragraphs[at].lstrip().startswith("Returns:"):
        at += 1
    return "\n\n".join(paragraphs[:at] + added + paragraphs[at:])


def catalog(*, family: str | None = None, task: str | Task | None = None) -> tuple[LossInfo, ...]:
    """All registered losses, in registration order, optionally filtered.

    ``family`` is one of :data:`FAMILIES`, ``task`` a :class:`Task` or its value; anything else raises
    (a ``TypeError`` for what is not a string, a ``ValueError`` naming the close names for a misspelt
    one), so a typo never reads as an empty catalog. A valid pair with no loss gives ``()``.

    >>> import jaxloss as jl
    >>> "huber" in [entry.name for entry in jl.catalog(family="regression")]
    True
    """
    for argument, value, known in (("family", family, FAMILIES), ("task", task, tuple(t.value for t in Task))):
        if value is None or (argument == "task" and isinstance(value, Task)):
            continue
        if not isinstance(value, str):
            raise TypeError(f"catalog: {argument} must be a string (one of {', '.join(known)}) or None; got "
                            f"{type(value).__name__} {value!r}.")
        if value not in known:
            close = difflib.get_close_matches(value.strip().lower().replace("-", "_").replace(" ", "_"), known, n=3,
                                              cutoff=0.6)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ValueError(f"catalog: {argument}={value!r} is not a known {argument}.{hint} Known: {', '.join(known)}.")
    return tuple(
        e for e in _ENTRIES.values()
        if (family is None or e.family == family) and (task is None or e.task == task)
    )


def info(name_or_loss: str | Callable[..., Any]) -> LossInfo:
    """The registry entry of a loss, given its name, an alias, or the function."""
    return lookup(name_or_loss, fn="info", argument="name_or_loss")


def lookup(value: Any, *, fn: str, argument: str) -> LossInfo:
    """The entry :func:`info` and :func:`get` find, for any public function taking a loss: errors name ``fn`` and ``argument``."""
    if callable(value):
        entry = getattr(value, "info", None)
        if isinstance(entry, LossInfo):
            return entry
        raise KeyError(f"{fn}: {argument}={getattr(value, '__name__', value)!r} is not a registered jaxloss loss; "
                       "pass a registered loss, its name or an alias (jl.catalog() lists them).")
    if not isinstance(value, str):
        raise TypeError(f"{fn}: {argument} must be a loss name (e.g. 'huber') or a registered loss function; got "
                        f"{type(value).__name__} {value!r}.")
    key = value
    normalized = key.strip().lower().replace("-", "_").replace(" ", "_")
    for candidate in (key, normalized):
        if candidate in _BY_NAME:
            return _ENTRIES[_BY_NAME[candidate]]
    optax_name = normalized.removeprefix("optax.losses.").removeprefix("optax.")
    if optax_name in _optax_names.EQUIVALENTS:
        return _ENTRIES[_optax_names.EQUIVALENTS[optax_name][0]]
    for entry in _ENTRIES.values():  # the optax equivalent a loss declares in its register(optax=...)
        if entry.optax == optax_name:
            return entry
    if optax_name in _optax_names.MISSING:
        raise KeyError(f"{fn}: {argument}={key!r}: optax.losses.{optax_name} has no jaxloss equivalent: "
                       f"{_optax_names.MISSING[optax_name]}.")
    close = difflib.get_close_matches(normalized, list(_BY_NAME), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise KeyError(
        f"{fn}: {argument}={key!r}: jaxloss has no loss named {key!r}.{hint} Known names: {', '.join(sorted(_BY_NAME))}."
    )


def get(name: str) -> Callable[..., jax.Array]:
    """Returns a loss function by canonical name, alias, or optax name.

    An optax name (``softmax_cross_entropy_with_integer_labels``, ``huber_loss``...) gives the
    jaxloss loss that equals it (with the option that makes it so, as a ``functools.partial``); one
    we lack raises a ``KeyError`` that says so and what to use. optax returns per-example values:
    pass ``reduction="none"`` for the same array.

    >>> import jaxloss as jl
    >>> jl.get("mse") is jl.mean_squared_error
    True
    >>> jl.get("softmax_cross_entropy_with_integer_labels") is jl.softmax_cross_entropy
    True
    """
    entry = lookup(name, fn="get", argument="name")
    normalized = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    optax_name = normalized.removeprefix("optax.losses.").removeprefix("optax.")
    if normalized not in _BY_NAME and optax_name in _optax_names.EQUIVALENTS:
        options = _optax_names.EQUIVALENTS[optax_name][1]
        if options:
            return functools.partial(entry.fn, **options)
    return entry.fn
