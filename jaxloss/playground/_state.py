"""The playground's two states, validated on the server: from JSON, from a URL hash, back to a hash (private).

Everything a page sends arrives here first: a state as a JSON object, the text of an imported JSON
file, or a URL hash ``dataset=spiral&loss=focal&o.gamma=2&hidden=4,2``. Each field is checked for
its type and range, loss names against the registry and the task, hyperparameters against the
registry's valid ranges; anything wrong raises a ``ValueError`` whose message names the field and
says what is allowed. Nothing is evaluated: values are parsed as numbers, names looked up in tables.

>>> from jaxloss.playground._state import TrainState
>>> s = TrainState.from_hash("dataset=spiral&loss=focal&o.gamma=3&hidden=6,6")
>>> s.loss, s.options, s.hidden, s.metric
('focal', {'gamma': 3.0}, [6, 6], 'accuracy')
>>> TrainState.from_hash(s.to_hash()) == s
True
"""

from __future__ import annotations

import dataclasses
import math
import urllib.parse
from collections.abc import Mapping
from typing import Any, Literal, get_args

from jaxloss import _json_state, _registry
from jaxloss.playground import _catalog, _data
from jaxloss.playground._data import PlaygroundTask

Optimizer = Literal["sgd", "momentum", "adam", "adamw"]
Activation = Literal["relu", "tanh", "sigmoid", "linear"]
Regularization = Literal["none", "l1", "l2"]
Axis = Literal["regression", "binary", "multiclass"]

OPTIMIZERS: tuple[str, ...] = get_args(Optimizer)
ACTIVATIONS: tuple[str, ...] = get_args(Activation)
REGULARIZATIONS: tuple[str, ...] = get_args(Regularization)
AXES: tuple[str, ...] = get_args(Axis)

#: TensorFlow Playground's menus.
LEARNING_RATES = (0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
REGULARIZATION_RATES = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)

MAX_LAYERS, MAX_NEURONS, MAX_LOSSES = 6, 8, 6
#: Integer fields: (low, high), inclusive.
LIMITS: dict[str, tuple[int, int]] = {
    "noise": (0, 50), "train_percent": (10, 90), "points": (50, 1000), "batch_size": (1, 100),
    "steps_per_frame": (1, 100), "seed": (0, 99999), "classes": (2, 8), "range": (1, 20),
}


def _fail(what: str, field: str, message: str) -> ValueError:
    return ValueError(f"{what}: {field} {message}")


def _integer(what: str, field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
        raise _fail(what, field, f"must be a whole number; got {value!r}.")
    lo, hi = LIMITS[field]
    if not lo <= value <= hi:
        raise _fail(what, field, f"must be between {lo} and {hi}; got {value!r}.")
    return int(value)


def _real(what: str, field: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(what, field, f"must be a finite number; got {value!r}.")
    if not lo <= value <= hi:
        raise _fail(what, field, f"must be between {lo:g} and {hi:g}; got {value!r}.")
    return float(value)


def _choice(what: str, field: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _fail(what, field, f"must be one of {', '.join(allowed)}; got {value!r}.")
    return str(value)


def _options(what: str, field: str, loss: str, raw: Any) -> dict[str, float]:
    """A loss's hyperparameters: known slider names, finite numbers in the registry's valid range."""
    if not isinstance(raw, Mapping):
        raise _fail(what, field, f"must be an object of {loss}'s hyperparameters; got {raw!r}.")
    entry = _registry.info(loss)
    allowed = _catalog.sliders(entry)
    out = {}
    for key, value in raw.items():
        if key not in allowed:
            raise _fail(what, f"{field}.{key}", f"is not a hyperparameter of {loss}; it has "
                        f"{', '.join(allowed) or 'none the playground can set'}.")
        h = allowed[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _fail(what, f"{field}.{key}", f"must be a finite number; got {value!r}.")
        if not h.contains(value):
            raise _fail(what, f"{field}.{key}", f"must be {h.describe()} for {loss}; got {value!r}.")
        out[key] = float(value)
    return out


def _loss(what: str, field: str, value: Any, offered: tuple[_registry.LossInfo, ...], where: str) -> str:
    if not isinstance(value, str):
        raise _fail(what, field, f"must be a loss name; got {value!r}.")
    names = {n: e.name for e in offered for n in e.names}
    if value not in names:
        try:
            known = _registry.info(value).name
        except (KeyError, ValueError):
            raise _fail(what, field, f"{value!r} is not a loss of the catalog; {where} offers "
                        f"{', '.join(e.name for e in offered)}.") from None
        raise _fail(what, field, f"{known} does not fit {where}; choose one of {', '.join(e.name for e in offered)}.")
    return names[value]


def _checked_fields(cls: type, raw: Mapping[str, Any], what: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{what}: expected an object; got {type(raw).__name__}.")
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ValueError(f"{what}: unknown keys {unknown}; known: {known}.")
    defaults = dataclasses.asdict(cls())
    return {**defaults, **raw}


def _parse_hash(text: str, what: str) -> dict[str, str]:
    if not isinstance(text, str) or len(text) > 4000:
        raise ValueError(f"{what}: the URL state must be a string of at most 4000 characters.")
    text = text.lstrip("#")
    if not text:
        return {}
    try:
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise ValueError(f"{what}: the URL state {text[:80]!r} is not key=value pairs joined by '&'.") from None
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"{what}: the URL state sets {key!r} twice.")
        out[key] = value
    return out


def _number_text(what: str, key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _fail(what, key, f"must be a number; got {text!r} in the URL.") from None
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def _fmt(value: Any) -> str:
    if isinstance(value, float):  # the shortest text that reads back as the same float
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, list):
        return ",".join(_fmt(v) for v in value)
    return str(value)


def _encode(fields: dict[str, Any], option_fields: dict[str, str]) -> str:
    """A canonical hash: fields in declaration order, options as ``<prefix>.<name>=value``."""
    pairs = []
    for key, value in fields.items():
        if key in option_fields:
            pairs += [(f"{option_fields[key]}.{k}", _fmt(v)) for k, v in sorted(value.items())]
        else:
            pairs.append((key, _fmt(value)))
    return urllib.parse.urlencode(pairs, safe=",")


class _State:
    """What both states share: reading one from JSON text or a URL hash, and writing it as JSON.

    Subclasses are dataclasses with ``WHAT`` (their name in messages) and a ``from_mapping`` that checks
    every field (``previous``: the state the page had, where the new one depends on it).
    """

    WHAT = "state"

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], *, previous: Any = None) -> Any:
        raise NotImplementedError

    @classmethod
    def from_json(cls, text: str) -> Any:
        """From the text of an exported JSON file (text only: never a path)."""
        return cls.from_mapping(_json_state.parse(cls, text, what=cls.WHAT))

    @classmethod
    def from_hash(cls, text: str) -> Any:
        """From a URL hash (``#`` optional; empty: the defaults)."""
        return cls.from_mapping(_hash_fields(cls, text))

    def to_json(self) -> str:
        return _json_state.dump(self)


@dataclasses.dataclass
class TrainState(_State):
    """Everything that defines a run of the train page (the URL hash and the exported JSON)."""

    dataset: str = "circle"
    noise: int = 0
    train_percent: int = 50
    points: int = 500
    batch_size: int = 10
    learning_rate: float = 0.03
    optimizer: str = "sgd"
    activation: str = "tanh"
    hidden: list[int] = dataclasses.field(default_factory=lambda: [4, 2])
    features: list[str] = dataclasses.field(default_factory=lambda: ["x1", "x2"])
    regularization: str = "none"
    regularization_rate: float = 0.0
    loss: str = "binary_cross_entropy"
    options: dict[str, float] = dataclasses.field(default_factory=dict)
    loss2: str = ""
    options2: dict[str, float] = dataclasses.field(default_factory=dict)
    weight: float = 0.5
    metric: str = "accuracy"
    steps_per_frame: int = 10
    seed: int = 0

    WHAT = "playground state"
    #: Fields whose change keeps training (the others start a new run).
    LIVE = frozenset({"learning_rate", "regularization_rate", "options", "options2", "weight", "metric",
                      "steps_per_frame"})
    _OPTIONS = {"options": "o", "options2": "o2"}

    @property
    def data(self) -> _data.Dataset:
        return _data.BY_NAME[self.dataset]

    @property
    def task(self) -> PlaygroundTask:
        return self.data.task

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], *, previous: TrainState | None = None) -> TrainState:
        """A validated state from a JSON object (missing keys: defaults; a new task's defaults for
        the loss and metric when the dataset changes the task from ``previous``'s)."""
        what = cls.WHAT
        s = _checked_fields(cls, raw, what)
        dataset = _choice(what, "dataset", s["dataset"], tuple(_data.BY_NAME))
        task = _data.BY_NAME[dataset].task
        offered = _catalog.losses(task)
        changed_task = previous is not None and previous.task is not task
        where = f"the {task} task of dataset {dataset!r}"
        loss = _loss(what, "loss", _catalog.DEFAULT_LOSS[task] if changed_task or "loss" not in raw else raw["loss"],
                     offered, where)
        options_raw = {} if changed_task else s["options"]
        loss2_raw = "" if changed_task else s["loss2"]
        loss2 = "" if loss2_raw in ("", None) else _loss(what, "loss2", loss2_raw, offered, where)
        metrics = _catalog.METRICS[task]
        metric_raw = metrics[0] if changed_task or "metric" not in raw else raw["metric"]
        hidden = s["hidden"]
        if not isinstance(hidden, list) or len(hidden) > MAX_LAYERS or not all(
                isinstance(h, int) and not isinstance(h, bool) and 1 <= h <= MAX_NEURONS for h in hidden):
            raise _fail(what, "hidden", f"must be a list of at most {MAX_LAYERS} layer sizes, each 1 to "
                        f"{MAX_NEURONS}; got {hidden!r}.")
        features = s["features"]
        if (not isinstance(features, list) or not features or len(set(map(str, features))) != len(features)
                or any(f not in _data.FEATURES for f in features)):
            raise _fail(what, "features", f"must be a non-empty list of distinct names from "
                        f"{', '.join(_data.FEATURES)}; got {features!r}.")
        return cls(
            dataset=dataset,
            noise=_integer(what, "noise", s["noise"]),
            train_percent=_integer(what, "train_percent", s["train_percent"]),
            points=_integer(what, "points", s["points"]),
            batch_size=_integer(what, "batch_size", s["batch_size"]),
            learning_rate=_real(what, "learning_rate", s["learning_rate"], 1e-6, 10.0),
            optimizer=_choice(what, "optimizer", s["optimizer"], OPTIMIZERS),
            activation=_choice(what, "activation", s["activation"], ACTIVATIONS),
            hidden=[int(h) for h in hidden],
            features=[str(f) for f in sorted(features, key=list(_data.FEATURES).index)],
            regularization=_choice(what, "regularization", s["regularization"], REGULARIZATIONS),
            regularization_rate=_real(what, "regularization_rate", s["regularization_rate"], 0.0, 10.0),
            loss=loss,
            options=_options(what, "options", loss, options_raw),
            loss2=loss2,
            options2=_options(what, "options2", loss2, s["options2"]) if loss2 else {},
            weight=_real(what, "weight", s["weight"], 0.0, 1.0),
            metric=_choice(what, "metric", metric_raw, metrics),
            steps_per_frame=_integer(what, "steps_per_frame", s["steps_per_frame"]),
            seed=_integer(what, "seed", s["seed"]),
        )

    def to_hash(self) -> str:
        return _encode(dataclasses.asdict(self), self._OPTIONS)

    def differs_structurally(self, other: TrainState) -> bool:
        """Whether going from ``other`` to this state needs a new run (new data or network)."""
        mine, theirs = dataclasses.asdict(self), dataclasses.asdict(other)
        return any(mine[k] != theirs[k] for k in mine if k not in self.LIVE)


@dataclasses.dataclass
class AnatomyState(_State):
    """What the anatomy page shows: losses along one axis, their hyperparameters and the point."""

    axis: str = "binary"
    losses: list[str] = dataclasses.field(default_factory=lambda: ["binary_cross_entropy", "focal", "hinge"])
    options: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    x: float = 1.0
    target: float = 1.0
    classes: int = 3
    range: int = 5

    WHAT = "anatomy state"

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], *, previous: Any = None) -> AnatomyState:
        """A validated state from a JSON object (missing keys: defaults; ``previous`` is not needed)."""
        what = cls.WHAT
        s = _checked_fields(cls, raw, what)
        axis = _choice(what, "axis", s["axis"], AXES)
        offered = anatomy_losses(axis)
        chosen = s["losses"]
        if "losses" not in raw and "axis" in raw:
            chosen = [e.name for e in offered[:3]]
        if not isinstance(chosen, list) or len(chosen) > MAX_LOSSES:
            raise _fail(what, "losses", f"must be a list of at most {MAX_LOSSES} loss names; got {chosen!r}.")
        losses = list(dict.fromkeys(_loss(what, "losses", n, offered, f"the {axis} axis") for n in chosen))
        options = s["options"]
        if not isinstance(options, Mapping):
            raise _fail(what, "options", f"must be an object {{loss: {{hyperparameter: value}}}}; got {options!r}.")
        checked = {}
        for name, opts in options.items():
            canonical = _loss(what, "options", name, offered, f"the {axis} axis")
            if canonical in losses:  # options of losses no longer shown are dropped
                checked[canonical] = _options(what, f"options.{canonical}", canonical, opts)
        size = _integer(what, "range", s["range"])
        target = s["target"]
        if axis == "binary":
            if target not in (0, 1) or isinstance(target, bool):
                raise _fail(what, "target", f"must be the label 0 or 1 on the binary axis; got {target!r}.")
        elif axis == "regression":
            _real(what, "target", target, -3.0, 3.0)
        return cls(axis=axis, losses=losses, options=checked,
                   x=_real(what, "x", s["x"], -100.0, 100.0), target=float(target) if axis != "multiclass" else 0.0,
                   classes=_integer(what, "classes", s["classes"]), range=size)

    def to_hash(self) -> str:
        pairs = [(k, _fmt(v)) for k, v in dataclasses.asdict(self).items() if k != "options"]
        pairs += [(f"o.{loss}.{k}", _fmt(v)) for loss, opts in sorted(self.options.items()) for k, v in sorted(opts.items())]
        return urllib.parse.urlencode(pairs, safe=",")


def anatomy_losses(axis: str) -> tuple[_registry.LossInfo, ...]:
    """The losses the anatomy page draws along ``axis`` (read from each entry's input kind's curve axis)."""
    curve = {"regression": "error", "binary": "logit", "multiclass": "true_class_logit"}[axis]
    regression = {_registry.Task.REGRESSION, _registry.Task.QUANTILE_REGRESSION,
                  _registry.Task.PROBABILISTIC_REGRESSION, _registry.Task.COUNT_REGRESSION}
    task_ok = {"regression": lambda e: e.task in regression and e.inputs.example_axes == 0,
               "binary": lambda e: e.inputs.curve_axis == "logit",
               "multiclass": lambda e: e.inputs.curve_axis == "true_class_logit"}[axis]
    return tuple(e for e in _registry.catalog() if e.inputs.curve_axis == curve and task_ok(e))


#: Field types for reading a URL hash: how each value's text becomes JSON.
_LIST_OF_INT = {"hidden"}
_LIST_OF_STR = {"features", "losses"}
_STRINGS = {"dataset", "optimizer", "activation", "regularization", "loss", "loss2", "metric", "axis"}


def _hash_fields(cls: type, text: str) -> dict[str, Any]:
    """The JSON object a URL hash stands for (values typed by field; checked by ``from_mapping``)."""
    what = cls.WHAT
    known = [f.name for f in dataclasses.fields(cls)]
    out: dict[str, Any] = {}
    for key, value in _parse_hash(text, what).items():
        head, _, rest = key.partition(".")
        if key not in known and not (rest and head in ("o", "o2")):
            raise ValueError(f"{what}: the URL sets an unknown key {key!r}; known: {known}.")
        if rest and cls is TrainState and head in ("o", "o2"):
            out.setdefault("options" if head == "o" else "options2", {})[rest] = _number_text(what, key, value)
        elif rest and cls is AnatomyState and head == "o" and "." in rest:
            loss, _, name = rest.rpartition(".")
            out.setdefault("options", {}).setdefault(loss, {})[name] = _number_text(what, key, value)
        elif key in _LIST_OF_INT:
            try:
                out[key] = [int(v) for v in value.split(",")] if value else []
            except ValueError:
                raise _fail(what, key, f"must be whole numbers separated by commas; got {value!r}.") from None
        elif key in _LIST_OF_STR:
            out[key] = [v for v in value.split(",") if v]
        elif key in _STRINGS:
            out[key] = value
        else:
            out[key] = _number_text(what, key, value)
    return out
