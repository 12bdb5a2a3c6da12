"""Every public entry point answers a wrong argument with its own name, the argument's, and what it expected.

Issue 24, class 9 (errors that name nothing), with class 8's smaller acceptances at the end. The entry
points are found by walking ``jaxloss.__all__`` and the ``__all__`` of every public module it lists, so a
new function is tried by itself; what a wrong value is for each argument is read from its annotation
(``bool``, ``int``, ``float``, ``str``, ``Literal[...]``, ``ArrayLike``, ``Sequence[...]``, ``| None``),
and a small table gives each entry point the valid arguments the wrong one is put among, the arguments
that take a name (tried with an unknown name too), and wrong values an annotation cannot tell. Each call
must raise a ``TypeError``, ``ValueError`` or ``KeyError`` whose message holds the entry point's name and
the argument's, before anything is compiled.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import time
import typing
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxloss as jl

UNKNOWN = "no_such_name"
BAD_OBJECT = object()


@dataclasses.dataclass
class Call:
    """How to call an entry point: valid positional and keyword arguments, and what to try beyond the
    annotations."""

    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)
    #: Arguments that take a name (a loss, a metric, a kind...): an unknown one must raise too.
    names: tuple[str, ...] = ()
    #: Argument -> wrong values its annotation does not tell (``Any``, callables, pytrees).
    bad: dict = dataclasses.field(default_factory=dict)
    #: Argument -> why it is not tried.
    skip: dict = dataclasses.field(default_factory=dict)
    #: Whole calls: (argument named in the message, args, kwargs), for ``*args`` entry points.
    calls: tuple = ()


def _linear(params, x):
    return x @ params["w"]


X = np.linspace(-1.0, 1.0, 12).reshape(6, 2)
Y = X @ np.array([1.0, -2.0])
PARAMS = {"w": jnp.zeros(2)}
P3, T3 = jnp.array([0.5, 2.0, -1.0]), jnp.zeros(3)
PROBS, LABELS = jnp.array([0.2, 0.9, 0.6, 0.1, 0.7, 0.4]), jnp.array([0, 1, 1, 0, 1, 0])
SCORES, CLASSES = jnp.asarray(np.random.default_rng(0).normal(size=(6, 3))), jnp.array([0, 1, 2, 0, 1, 2])
NOT_A_FUNCTION = ("not a function", 3)
JACOBIAN = jnp.array([[1.0, 0.0, 2.0], [-0.5, 1.0, 0.0]])


def _table() -> dict[str, Call]:
    """Valid arguments of every entry point that is not a loss (those come from the registry)."""
    from jaxloss import plot

    report = jl.inspect("mse", P3, T3)
    history = jl.History({"epoch": [1, 2], "loss": [2.0, 1.0]})
    fig, axes = plot.new_figure(1, 1)
    ax = axes[0][0]
    land = plot.landscape_surface(lambda p: jnp.sum(p ** 2), jnp.zeros(2), directions="axes", resolution=3)
    metric_classes = dict(args=(PROBS, LABELS))
    table = {
        # the registry
        "get": Call(args=("mse",), names=("name",), bad={"name": [None, 3]}),
        "info": Call(args=("mse",), names=("name_or_loss",), bad={"name_or_loss": [None, 3]}),
        "catalog": Call(names=("family", "task")),
        # composition
        "term": Call(args=("mse",), names=("loss",), bad={"loss": [None, 3], "select": list(NOT_A_FUNCTION)}),
        "combine": Call(args=({"a": ("mse", 1.0)},), bad={"terms": [None, "mse", {"a": (UNKNOWN, 1.0)},
                                                                    {"a": ("mse", "heavy")}]}),
        "objective": Call(args=(_linear, "mse"), names=("loss",), bad={"model": list(NOT_A_FUNCTION) + [None],
                                                                       "loss": [None, 3]}),
        "l1": Call(args=(0.1,), bad={"mask": [3]}),
        "l2": Call(args=(0.1,), bad={"mask": [3]}),
        "linear_schedule": Call(args=(0.0, 1.0, 10)),
        "warmup": Call(args=(10,)),
        "cyclical_schedule": Call(args=(10,)),
        "compose.unpack_batch": Call(args=((X, Y),), bad={"batch": [None, "batch", 3, {"inputs": X}]}),
        # inspection
        "inspect": Call(args=("mse", P3, T3), names=("subject",), bad={"subject": [None, 3]},
                        calls=(("predictions", ("mse", "abc", T3), {}), ("targets", ("mse", P3, None), {}),
                               ("targets", ("mse", P3, BAD_OBJECT), {}), ("targets", ("mse", P3, T3 + 0j), {}),
                               ("predictions", ("mse", P3 + 0j, T3), {}))),
        "check": Call(args=("mse",), kwargs={"dtypes": ["float32"], "cases": [0]}, names=("name_or_loss", "kind"),
                      bad={"name_or_loss": [None, 3, lambda p, t: jnp.mean((p - t) ** 2)], "kind": [3],
                           "dtypes": [["int32"], ["no_such_dtype"], "float32", [None], []], "cases": [[999], [-1], "0", 0]}),
        "inspection.stability_cases": Call(args=("mse",), names=("name_or_loss", "kind"),
                                           bad={"name_or_loss": [None, 3], "kind": [3]}),
        "grad_curve": Call(args=("mse", jnp.linspace(-1.0, 1.0, 3)), names=("loss",),
                           bad={"loss": [None, 3], "errors": [None, "abc", BAD_OBJECT, 1.0],
                                "num_classes": [0, 1]},
                           calls=(("target", ("cross_entropy", jnp.linspace(-1.0, 1.0, 3)),
                                   {"num_classes": 3, "target": 3}),
                                  ("target", ("cross_entropy", jnp.linspace(-1.0, 1.0, 3)),
                                   {"num_classes": 3, "target": 1.5}))),
        # training
        "fit": Call(args=(_linear, PARAMS, "mse", (X, Y)), kwargs={"epochs": 1, "batch_size": 6, "progress": False},
                    names=("metrics",),
                    bad={"model": [None, 3], "metrics": [[UNKNOWN], 3], "optimizer": ["adma", 3],
                         "callbacks": [3, [3]], "early_stopping": ["yes", 3], "val": ["abc", 3]},
                    skip={"opt_state": "an optimizer state is any pytree",
                          "checkpoint_dir": "a path: any string is one", "resume_from": "a path: any string is one"},
                    calls=(("loss", (_linear, PARAMS, UNKNOWN, (X, Y)), {"epochs": 1, "progress": False}),
                           ("loss", (_linear, PARAMS, None, (X, Y)), {"epochs": 1, "progress": False}),
                           ("train", (_linear, PARAMS, "mse", None), {"epochs": 1, "progress": False}),
                           ("train", (_linear, PARAMS, "mse", "abc"), {"epochs": 1, "progress": False}))),
        # aggregators (Jacobian descent)
        **{f"aggregators.{name}": Call(args=(JACOBIAN,), kwargs={"key": jax.random.key(0)} if name == "graddrop" else {},
                                       bad={"J": [None, "abc", JACOBIAN[0], JACOBIAN.astype(jnp.int32)]})
           for name in jl.aggregators.AGGREGATORS},
        "aggregators.aggregate": Call(args=(jl.aggregators.upgrad, {"w": JACOBIAN}),
                                      bad={"aggregator": [None, 3], "jacobian": [None, {}]}),
        "aggregators.jacobian": Call(args=(lambda p: jnp.stack([jnp.sum(p ** 2), jnp.sum(p)]), jnp.ones(3)),
                                     bad={"fn": list(NOT_A_FUNCTION) + [None]}),
        "evaluate": Call(args=(_linear, PARAMS, "mse", (X, Y)), names=("metrics",),
                         bad={"metrics": [[UNKNOWN], 3]},
                         calls=(("loss", (_linear, PARAMS, UNKNOWN, (X, Y)), {}),
                                ("loss", (_linear, PARAMS, None, (X, Y)), {}),
                                ("loss", (_linear, PARAMS, jl.l2(0.1), (X, Y)), {}),
                                ("data", (_linear, PARAMS, "mse", None), {}),
                                ("data", (_linear, PARAMS, "mse", "abc"), {}),
                                ("model", (None, PARAMS, "mse", (X, Y)), {}),
                                ("model", ("mse", PARAMS, "mse", (X, Y)), {}))),
        "predict": Call(args=(_linear, PARAMS, X),
                        calls=(("inputs", (_linear, PARAMS, None), {}), ("inputs", (_linear, PARAMS, "abc"), {}),
                               ("model", (None, PARAMS, X), {}))),
        "trajectory": Call(args=(lambda p: jnp.sum(p ** 2), jnp.ones(2), optax.sgd(0.1), 2),
                           bad={"objective": list(NOT_A_FUNCTION) + [None], "optimizer": ["sdg", None, 3, optax.sgd],
                                "params": [None, "abc"]}),
        "toy_problem": Call(args=("mse",), kwargs={"fast": True}, names=("name_or_kind",),
                            bad={"name_or_kind": [None, 3]}),
        "train_catalog": Call(kwargs={"names": ["mse"], "fast": True, "epochs": 1}, names=("names",),
                              bad={"names": [[UNKNOWN], "mse", [3]]}),
        # models
        "models.as_model": Call(args=(_linear, PARAMS), bad={"model": [None, 3, "model"]}),
        "models.function_model": Call(args=(_linear, PARAMS), bad={"fn": [None, 3, "model"]}),
        "models.nnx_model": Call(args=(BAD_OBJECT,), bad={"module": [None, 3, "module"]}, skip={}),
        "models.equinox_model": Call(args=(BAD_OBJECT,), bad={"module": [None, 3, "module"]}),
        "models.is_module": Call(args=(BAD_OBJECT,), skip={"model": "a question any object answers (False)"}),
        "train.is_objective": Call(args=(BAD_OBJECT,), skip={"loss": "a question any object answers (False)"}),
        # figures
        "plot.house_style": Call(),
        "plot.new_figure": Call(kwargs={}),
        "plot.style_axes": Call(args=(ax,), bad={"ax": [None, "ax", 3]}),
        "plot.save": Call(args=(fig, "unused.png"), kwargs={"formats": ["png"]}, bad={"fig": [None, "fig", 3],
                                                                                      "formats": ["png", [3], [UNKNOWN]]},
                          skip={"path": "a path: any string is one"}),
        "plot.close": Call(args=(fig,), bad={"fig": ["fig", 3]}),
        "plot.history": Call(args=(history,), bad={"history": [None, "loss", 3], "keys": ["loss", [UNKNOWN]]}),
        "plot.report": Call(args=(report,), bad={"report": [None, "report", 3]}),
        "plot.error_curve": Call(args=("mse", jnp.linspace(-1.0, 1.0, 3)), names=("loss",),
                                 bad={"loss": [None, 3], "errors": [None, "abc", BAD_OBJECT]}),
        "plot.loss_vs_error": Call(args=(["mse"],), names=("losses",),
                                   bad={"losses": [None, 3, [UNKNOWN]], "errors": ["abc", BAD_OBJECT]}),
        "plot.curves": Call(args=(ax, {"loss": [2.0, 1.0]}), bad={"ax": [None, "ax", 3], "series": [None, "loss", 3]}),
        "plot.landscape_surface": Call(args=(lambda p: jnp.sum(p ** 2), jnp.zeros(2)),
                                       kwargs={"directions": "axes", "resolution": 3},
                                       names=("directions",),
                                       bad={"loss_fn": list(NOT_A_FUNCTION) + [None], "params": [None, "abc"],
                                            "span": ["x", (1.0, 2.0)], "trajectories": ["path", 3]}),
        "plot.loss_landscape": Call(args=(lambda p: jnp.sum(p ** 2), jnp.zeros(2)),
                                    kwargs={"directions": "axes", "resolution": 3}, names=("directions",),
                                    bad={"loss_fn": list(NOT_A_FUNCTION) + [None], "params": [None, "abc"],
                                         "span": ["x"], "trajectories": ["path", 3], "ax": ["ax", 3]}),
        "plot.draw_landscape": Call(args=(ax, land), bad={"ax": [None, "ax", 3], "land": [None, "land", 3]}),
        # the playground (its server is replaced by one that refuses to start: see the test)
        "playground": Call(kwargs={"open_browser": False, "quiet": True}, names=("page",),
                           bad={"page": [3, None]}, skip={"state": "a URL hash: the page reads and checks it"}),
        # metrics
        "metrics.accuracy": Call(args=(SCORES, CLASSES)),
        "metrics.binary_accuracy": Call(**metric_classes),
        "metrics.confusion_matrix": Call(**metric_classes),
        "metrics.precision": Call(**metric_classes),
        "metrics.recall": Call(**metric_classes),
        "metrics.f1_score": Call(**metric_classes),
        "metrics.fbeta_score": Call(args=(PROBS, LABELS), kwargs={"beta": 2.0}),
        "metrics.roc_auc": Call(**metric_classes),
        "metrics.average_precision": Call(**metric_classes),
        "metrics.log_loss": Call(**metric_classes),
        "metrics.mean_squared_error": Call(args=(P3, T3)),
        "metrics.root_mean_squared_error": Call(args=(P3, T3)),
        "metrics.mean_absolute_error": Call(args=(P3, T3)),
        "metrics.r2_score": Call(args=(P3, T3)),
        "metrics.expected_calibration_error": Call(**metric_classes),
        "metrics.get": Call(args=("accuracy",), names=("name",), bad={"name": [None, 3]}),
        "metrics.auc_histogram_bound": Call(args=(jl.metrics.auc_histogram_metric().init(),),
                                            bad={"state": [None, "state", 3]}),
        **{f"metrics.{name}": Call() for name in ("accuracy_metric", "binary_accuracy_metric", "precision_metric",
                                                   "recall_metric", "f1_metric", "fbeta_metric", "auc_metric",
                                                   "average_precision_metric", "auc_histogram_metric",
                                                   "log_loss_metric", "mse_metric", "rmse_metric", "mae_metric",
                                                   "r2_metric", "ece_metric")},
        # classes people construct
        "EarlyStopping": Call(names=("mode",)),
        "CSVLogger": Call(args=("log.csv",), bad={"path": [None, 3]}),
        "TensorBoardLogger": Call(args=("logs",), bad={"logdir": [None, 3]}),
        "History": Call(kwargs={}, bad={"values": ["loss", 3, {"loss": "abc"}]}),
        "Hyperparameter": Call(bad={"low": ["x"], "high": ["x"], "slider": ["x", (1.0,)]}),
        "Schedule": Call(args=(lambda s: s, "identity"), bad={"fn": list(NOT_A_FUNCTION) + [None]}),
        "Regularizer": Call(args=("l2", 0.1), names=("kind",), bad={"kind": [None, 3], "scale": ["x", None],
                                                                   "mask": [3]}),
        "Model": Call(args=(lambda params, state, x, **kw: (x, state),), bad={"apply": list(NOT_A_FUNCTION) + [None]}),
    }
    return table, fig


#: Public classes that are results the library builds (people read them; they do not construct them), and
#: exceptions and protocols. Every other public class is in the table above.
NOT_CONSTRUCTED = {"Card", "inspection.CardRow", "Report", "inspection.Line", "GradCurve", "LossInfo", "FitResult",
                   "EpochEnd", "StepEnd", "Trajectory", "ToyProblem", "Composite", "Objective", "StopTraining", "Callback",
                   "metrics.Metric", "plot.Landscape", "aggregators.Properties"}


def _entry_points() -> dict[str, Callable[..., Any]]:
    """Every public callable reachable from ``jaxloss.__all__`` (and the ``__all__`` of the public modules
    it lists), each once, under its shortest public name; losses under ``loss:<canonical name>``."""
    found: dict[int, tuple[str, Any]] = {}

    def add(name: str, obj: Any) -> None:
        if not callable(obj) or isinstance(obj, (dict, tuple, frozenset)):
            return
        entry = getattr(obj, "info", None)
        if isinstance(entry, jl.LossInfo) and entry.fn is obj:
            name = f"loss:{entry.name}"
        known = found.get(id(obj))
        if known is None or (not known[0].startswith("loss:") and len(name) < len(known[0])):
            found[id(obj)] = (name, obj)

    for name in jl.__all__:
        obj = getattr(jl, name)
        if inspect.ismodule(obj):
            for sub in getattr(obj, "__all__", ()):
                add(f"{name}.{sub}", getattr(obj, sub))
        else:
            add(name, obj)
    return dict(sorted(found.values(), key=lambda item: item[0]))


ENTRY_POINTS = _entry_points()


# -- wrong values from annotations ----------------------------------------------------------------


def _allows_none(fn: Any, annotation: Any) -> bool:
    """Whether the annotation (a string: the package uses postponed annotations) admits None, aliases
    (``Average = Optional[Literal[...]]``) resolved in the function's module."""
    target = getattr(fn, "__wrapped__", fn)
    target = target.__init__ if inspect.isclass(target) else target
    try:
        hint = eval(annotation, getattr(target, "__globals__", {})) if isinstance(annotation, str) else annotation
    except Exception:  # noqa: BLE001 - a name only type checkers see
        return "None" in str(annotation)

    def walk(t: Any) -> bool:
        return t is None or t is type(None) or any(walk(a) for a in typing.get_args(t))

    return walk(hint)


def _wrong_values(annotation: Any, default: Any, *, name_argument: bool, allows_none: bool) -> list[Any]:
    """Wrong values for an argument annotated ``annotation``. ``None`` is wrong unless the annotation or the
    default allows it."""
    text = str(annotation).replace(" ", "")
    optional = allows_none or default is None or text in ("Any", "")
    base = [alt for alt in text.split("|") if alt != "None"]
    base = base[0] if len(base) == 1 else "|".join(base)
    out: list[Any] = [] if optional else [None]
    if base == "bool":
        out += ["yes", 2]
    elif base == "int":
        out += ["3", 2.5, True]
    elif base == "float":
        out += ["x", True, BAD_OBJECT]
    elif base.startswith("Literal[") or base in ("Reduction", "Average", "StreamingAverage", "Mode", "Page"):
        out += [3, UNKNOWN]
    elif base == "str":
        out += [3]
    elif base in ("ArrayLike", "ArrayLike|tuple"):
        out += ["abc", BAD_OBJECT]
    elif base.startswith("Sequence["):
        out += [3]
    if name_argument and UNKNOWN not in out:
        out.append(UNKNOWN)
    return out


def _parameters(fn: Any) -> list[inspect.Parameter]:
    target = fn.__init__ if inspect.isclass(fn) and "__init__" in vars(fn) else fn
    params = list(inspect.signature(target).parameters.values())
    return [p for p in params if p.name != "self"]


@dataclasses.dataclass
class Case:
    argument: str
    value: Any
    args: tuple
    kwargs: dict


def _cases(spec: Call, fn: Any) -> list[Case]:
    cases = []
    for p in _parameters(fn):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in spec.skip:
            continue
        values = _wrong_values(p.annotation, None if p.default is p.empty else p.default,
                               name_argument=p.name in spec.names, allows_none=_allows_none(fn, p.annotation))
        values += [v for v in spec.bad.get(p.name, []) if not any(v is w for w in values)]
        positional = [q.name for q in _parameters(fn) if q.kind in (q.POSITIONAL_ONLY, q.POSITIONAL_OR_KEYWORD)]
        for value in values:
            args, kwargs = list(spec.args), dict(spec.kwargs)
            if p.name in positional and positional.index(p.name) < len(args):
                args[positional.index(p.name)] = value
            else:
                kwargs[p.name] = value
            cases.append(Case(p.name, value, tuple(args), kwargs))
    cases += [Case(argument, "(call)", args, kwargs) for argument, args, kwargs in spec.calls]
    return cases


def _answer(display: str, fn: Callable[..., Any], case: Case) -> str | None:
    """None when the call raises as it should; otherwise what went wrong."""
    try:
        result = fn(*case.args, **case.kwargs)
    except (TypeError, ValueError, KeyError) as err:
        message = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
        missing = [w for w in (display, case.argument) if not re.search(rf"\b{re.escape(w)}\b", message)]
        if missing:
            return f"{type(err).__name__} without {' and '.join(map(repr, missing))}: {message[:160]}"
        return None
    except Exception as err:  # noqa: BLE001 - any other exception names nothing a person can act on
        return f"{type(err).__name__}: {str(err)[:160]}"
    for made in result if isinstance(result, tuple) else (result,):  # a figure drawn by an accepted call
        if type(made).__name__ == "Figure":
            jl.plot.close(made)
    return "accepted"


@pytest.fixture(scope="module")
def table():
    from jaxloss import plot

    t, fig = _table()
    yield t
    plot.close(fig)


@pytest.fixture
def no_server(monkeypatch):
    """A playground that accepted a wrong argument would start a server: it refuses instead."""
    from jaxloss.playground import _server

    class Refused:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("the playground started: a wrong argument was accepted")

    monkeypatch.setattr(_server, "PlaygroundServer", Refused)
    monkeypatch.setattr("webbrowser.open", lambda *a, **k: None)


def _display(name: str, fn: Any) -> str:
    """The name the message must hold: the loss's, the function's or the class's own name."""
    return name.removeprefix("loss:") if name.startswith("loss:") else getattr(fn, "__name__", name.rsplit(".", 1)[-1])


def test_every_public_entry_point_is_in_the_table(table):
    """A new public function or class must say how it is called (or that it is a result nobody builds)."""
    losses = {n for n in ENTRY_POINTS if n.startswith("loss:")}
    assert {e.name for e in jl.catalog()} == {n.removeprefix("loss:") for n in losses}
    rest = set(ENTRY_POINTS) - losses
    missing = sorted(n for n in rest if n not in table and n not in NOT_CONSTRUCTED)
    assert not missing, f"public entry points without a row in tests/test_entry_points.py's table: {missing}"
    stale = sorted(n for n in table if n not in ENTRY_POINTS)
    assert not stale, f"table rows for names that are not public: {stale}"


def _loss_call(name: str) -> Call:
    entry = jl.info(name)
    sample = entry.inputs.random(np.random.default_rng(0), 4)
    args = tuple(jnp.asarray(a) for a in sample.args)
    complex_args = [(tuple(a.astype(jnp.complex64) if j == i else b for j, b in enumerate(args)))
                    for i, a in enumerate(args)]
    positional = [p.name for p in _parameters(entry.fn) if p.kind is p.POSITIONAL_OR_KEYWORD]
    return Call(args=args, kwargs=dict(sample.kwargs),
                calls=tuple((positional[i], c, dict(sample.kwargs)) for i, c in enumerate(complex_args)))


#: XLA compilations so far in this process: a wrong argument must be answered before anything is compiled.
_COMPILES = [0]
jax.monitoring.register_event_duration_secs_listener(
    lambda event, duration, **_: _COMPILES.__setitem__(0, _COMPILES[0] + (event == "/jax/core/compile/backend_compile_duration")))


#: The entry points a user calls (the results the library builds, NOT_CONSTRUCTED, are not called).
CALLED = sorted(n for n in ENTRY_POINTS if n not in NOT_CONSTRUCTED)


@pytest.mark.parametrize("name", CALLED)
def test_wrong_arguments_name_the_entry_point_and_the_argument(name, table, no_server):
    fn = ENTRY_POINTS[name]
    spec = _loss_call(name.removeprefix("loss:")) if name.startswith("loss:") else table[name]
    display = _display(name, fn)
    compiles = _COMPILES[0]
    failures = []
    for case in _cases(spec, fn):
        before = _COMPILES[0]
        problem = _answer(display, fn, case)
        if problem is None and _COMPILES[0] != before:
            problem = f"compiled {_COMPILES[0] - before} XLA program(s) before raising"
        if problem is not None:
            failures.append(f"{case.argument}={case.value!r}: {problem}")
    compiled = _COMPILES[0] - compiles
    assert not failures, f"{name}: {len(failures)} wrong argument(s) not answered:\n  " + "\n  ".join(failures)
    assert compiled == 0, f"{name}: wrong arguments compiled {compiled} XLA program(s) before raising"


# -- the issue's examples, one by one ---------------------------------------------------------------


def test_the_issues_examples_name_the_fix():
    with pytest.raises(ValueError, match=r"check: cases\[0\]=999 is out of range"):
        jl.check("mse", cases=[999])
    with pytest.raises(ValueError, match=r"check: name_or_loss='<lambda>' is not a registered .* pass kind="):
        jl.check(lambda p, t: jnp.mean((p - t) ** 2))
    with pytest.raises(ValueError, match=r"grad_curve: num_classes=0 is out of range; num_classes must be >= 2"):
        jl.grad_curve("cross_entropy", jnp.linspace(-1.0, 1.0, 3), num_classes=0)
    with pytest.raises(TypeError, match=r"warmup: steps must be an integer .* got str '10'"):
        jl.warmup("10")
    with pytest.raises(TypeError, match=r"inspect: inputs\[0\] \(predictions\) must be an array of numbers; got the string"):
        jl.inspect("mse", "abc", "def")
    with pytest.raises(TypeError, match=r"grad_curve: errors must be an array of numbers; got the string 'abc'"):
        jl.grad_curve("mse", "abc")
    with pytest.raises(TypeError, match=r"grad_curve: target must be an integer \(the true class"):
        jl.grad_curve("cross_entropy", jnp.linspace(-1.0, 1.0, 3), num_classes=3, target=1.5)  # was int(1.5) = 1
    # A kind given by name still checks a function that is not registered.
    assert jl.check(lambda p, t, **kw: jl.mse(p, t, **kw), kind="regression", dtypes=["float32"], cases=[0]).ok


# -- class 8: smaller acceptances ---------------------------------------------------------------------


def test_check_rejects_dtypes_that_are_not_floating_point():
    """An integer dtype used to come back as a card with FLAGGED rows, as if the loss were unstable."""
    for dtypes in (["int32"], ["float32", "int8"], ["bool"]):
        with pytest.raises(ValueError, match=r"check: dtypes holds \w+, which is not a floating-point dtype"):
            jl.check("mse", dtypes=dtypes)
    with pytest.raises(TypeError, match=r"check: dtypes must be a list of floating-point dtypes, e.g. dtypes=\['float32'\]"):
        jl.check("mse", dtypes="float32")
    assert jl.check("mse", dtypes=("float32", jnp.float16), cases=[0]).ok


def test_catalog_rejects_a_misspelt_family_or_task_and_names_the_close_ones():
    with pytest.raises(ValueError, match=r"catalog: family='regresion' is not a known family. Did you mean 'regression'"):
        jl.catalog(family="regresion")
    with pytest.raises(ValueError, match=r"catalog: task='multi_class' is not a known task. Did you mean 'multiclass'"):
        jl.catalog(task="multi_class")
    with pytest.raises(TypeError, match=r"catalog: family must be a string"):
        jl.catalog(family=3)
    assert jl.catalog(family="regression", task="ranking") == ()  # valid names, no loss: an empty catalog
    from jaxloss._registry import Task

    assert jl.catalog(task=Task.RANKING) == jl.catalog(task="ranking") != ()


@pytest.mark.parametrize("name", [e.name for e in jl.catalog()])
def test_complex_inputs_are_rejected_by_every_loss(name):
    """A complex array in any positional argument raises, naming the loss and the argument (kl_divergence took
    the real part of complex targets and returned 0.0)."""
    entry = jl.info(name)
    sample = entry.inputs.random(np.random.default_rng(0), 4)
    args = [jnp.asarray(a) for a in sample.args]
    names = [p.name for p in _parameters(entry.fn) if p.kind is p.POSITIONAL_OR_KEYWORD]
    for i, a in enumerate(args):
        bad = list(args)
        bad[i] = a.astype(jnp.complex64)
        with pytest.raises(TypeError, match=rf"^{name}: .*\b{names[i]}\b"):
            entry.fn(*bad, **sample.kwargs)


@pytest.mark.parametrize("fn", [jl.kl_divergence, jl.generalized_kl_divergence, jl.jensen_shannon])
def test_the_divergences_reject_complex_targets_themselves(fn):
    """Their own check, below the registry's: the targets' real part would pass as a distribution."""
    p, q = jnp.zeros((2, 3)), jnp.ones((2, 3), jnp.complex64) / 3
    with pytest.raises(TypeError, match=rf"^{fn.__name__}: targets must be real"):
        fn.__wrapped__(p, q)
    with pytest.raises(TypeError, match=rf"^{fn.__name__}: predictions must be floating point"):
        fn.__wrapped__(p.astype(jnp.complex64), jnp.real(q))


def _torch_batchmean(log_input: np.ndarray, target: np.ndarray) -> float:
    """torch.nn.KLDivLoss(reduction="batchmean")(input, target): the summed pointwise
    ``target * (log(target) - input)`` divided by ``input.size(0)`` (PyTorch 2.13.0, torch/nn/functional.py,
    kl_div: the "sum" reduction, then ``reduced = reduced / input.size()[0]``; checked against it when this test
    was written: 0.496225 for (4, 5), 2.485599 for (2, 3, 5) inputs)."""
    pointwise = np.where(target > 0, target * (np.log(np.where(target > 0, target, 1.0)) - log_input), 0.0)
    return float(np.sum(pointwise) / log_input.shape[0])


def test_kl_mean_is_torch_batchmean_for_2d_inputs_only_as_its_docstring_says():
    rng = np.random.default_rng(7)

    def inputs(shape):
        x = rng.normal(size=shape)
        q = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
        log_p = x - np.log(np.sum(np.exp(x), axis=-1, keepdims=True))
        return x, q, log_p

    x, q, log_p = inputs((4, 5))  # (n, K): the same number
    np.testing.assert_allclose(float(jl.kl_divergence(jnp.asarray(x), jnp.asarray(q))), _torch_batchmean(log_p, q),
                               rtol=1e-12)
    x, q, log_p = inputs((2, 3, 5))  # (B, T, K): batchmean is T times our mean, our sum over B
    ours = float(jl.kl_divergence(jnp.asarray(x), jnp.asarray(q)))
    total = float(jl.kl_divergence(jnp.asarray(x), jnp.asarray(q), reduction="sum"))
    np.testing.assert_allclose(_torch_batchmean(log_p, q), 3 * ours, rtol=1e-12)
    np.testing.assert_allclose(_torch_batchmean(log_p, q), total / 2, rtol=1e-12)
    x, q, log_p = inputs((5,))  # (K,): batchmean divides the one divergence by K
    np.testing.assert_allclose(_torch_batchmean(log_p, q), float(jl.kl_divergence(jnp.asarray(x), jnp.asarray(q))) / 5,
                               rtol=1e-12)
    doc = jl.kl_divergence.__doc__
    assert "agree exactly for 2-D inputs ``(n, K)``" in doc and "``T`` times our ``\"mean\"``" in doc
