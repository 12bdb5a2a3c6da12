"""The package's shape, read from the source: data flows one way, and each loss is declared once.

The layers, from the bottom (see README, "Layout"): a module may import its own layer and the layers
below it, never one above; a loss family module imports no other family; and nothing below the
front door imports ``jaxloss`` itself. The test reads every module's imports with ``ast`` (imports
inside functions count too), so a lazy upward import cannot hide.
"""

from __future__ import annotations

import ast
import inspect
import pathlib

import pytest

import jaxloss as jl
from jaxloss import _kinds, _registry

PACKAGE = pathlib.Path(jl.__file__).parent

#: Bottom first. The first component of the module path below ``jaxloss`` names its layer.
LAYERS: tuple[frozenset[str], ...] = tuple(frozenset(layer) for layer in (
    # validation, options and argument checks, numerics, vocabularies, README
    {"_core", "_options", "_arguments", "_optax_names", "_json_state", "_kinds", "_readme", "_compilation_cache"},
    {"_registry"},  # the mechanism: Hyperparameter, LossInfo, register, catalog
    {"losses"},  # one module per family
    {"models"},  # the model contract
    {"compose"},  # loss algebra, objectives, regularizers
    {"metrics", "inspection"},  # what people read; what the inspector shows (neither imports the other)
    {"aggregators"},  # gradient-level composition: a terms' Jacobian -> one update direction
    {"train"},  # fit
    {"toys"},  # toy problems, trained with fit
    {"plot"},  # every figure
    {"playground"},
    {"demos"},  # thin: they arrange library calls and explain them
    {"cli", "_cli_catalog", "_cli_demo", "_cli_inspect", "__main__"},  # the command line
))
#: Layers that share a rank but must not depend on each other.
INDEPENDENT = frozenset({"metrics", "inspection"})
#: The layers that use the library as its users do, through the front door (``import jaxloss as jl``).
USERS = frozenset({"demos", "cli", "_cli_catalog", "_cli_demo", "_cli_inspect", "__main__"})
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import of a jaxloss module in ``path``, nested ones included."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "jaxloss"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # a relative import
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != "jaxloss":
                continue
            for alias in node.names:  # `from jaxloss import _core` imports the module jaxloss._core
                candidate = f"{base}.{alias.name}"
                is_module = (PACKAGE.parent / (candidate.replace(".", "/") + ".py")).exists() or (
                    PACKAGE.parent / candidate.replace(".", "/")).is_dir()
                found.append((node.lineno, candidate if is_module else base))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None  # None: the front door, jaxloss/__init__.py


def test_every_module_has_a_layer():
    unknown = {_layer(_module_name(p)) for p in MODULES} - set(RANK) - {None}
    assert not unknown, f"modules outside every layer: {sorted(unknown)}; add them to LAYERS (and README's Layout)"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_imports_point_down(path):
    module = _module_name(path)
    layer = _layer(module)
    if layer is None:
        return  # the front door re-exports everything
    upward = []
    for line, imported in _imports(path):
        target = _layer(imported)
        if target is None:
            if layer not in USERS:
                upward.append(f"line {line}: imports the jaxloss package itself (import the module it needs)")
        elif RANK[target] > RANK[layer]:
            upward.append(f"line {line}: {imported} (layer {target!r}) is above {layer!r}")
        elif target != layer and {target, layer} <= INDEPENDENT:
            upward.append(f"line {line}: {imported} is a sibling layer of {layer!r}; they must not depend on each other")
    assert not upward, f"{module} imports upward:\n  " + "\n  ".join(upward)


@pytest.mark.parametrize("path", sorted((PACKAGE / "losses").glob("_[a-z]*.py")), ids=lambda p: p.name)
def test_loss_families_import_no_other_family(path):
    """Helpers shared by several families live in losses/ under a non-family name (``_class_inputs``...)."""
    own = path.stem.lstrip("_")
    families = set(_registry.FAMILIES)
    bad = [f"line {line}: {imported}" for line, imported in _imports(path)
           if imported.startswith("jaxloss.losses._") and imported.split(".")[2].lstrip("_") in families - {own}]
    assert not bad, f"{path.name} imports another family's module: {bad}"


def test_every_family_module_registers_its_own_family():
    for entry in jl.catalog():
        assert entry.fn.__wrapped__.__module__ == f"jaxloss.losses._{entry.family}", entry.name
    assert {e.family for e in jl.catalog()} == set(_registry.FAMILIES)


# -- one place per loss ----------------------------------------------------------------------------


@pytest.mark.parametrize("entry", jl.catalog(), ids=lambda e: e.name)
def test_registry_reads_the_signature_and_writes_the_docstring(entry):
    parameters = inspect.signature(entry.fn).parameters
    for key, spec in entry.hyperparameters.items():
        assert parameters[key].kind is inspect.Parameter.KEYWORD_ONLY, f"{entry.name}: {key} must be keyword-only"
        assert spec.default == parameters[key].default or (spec.default is None and parameters[key].default is None)
    assert isinstance(entry.task, _registry.Task)
    assert entry.inputs in _kinds.ALL and all(k in _kinds.ALL for k in entry.also_inputs)
    assert entry.toy_problem in _kinds.problems.ALL
    doc = entry.fn.__doc__
    for section in ("Args:", "Returns:", "Formula:", "Reference:", ">>>"):
        assert section in doc, f"{entry.name}: help() lacks {section}"
    assert entry.reference.split(";")[0].strip()[:20] in " ".join(doc.split()), entry.name
    for key, spec in entry.hyperparameters.items():
        assert f"{key}: {spec.describe()}" in doc, f"{entry.name}: the docstring does not state {key}'s range"


def test_register_refuses_what_it_can_read_elsewhere():
    def fake(predictions, targets, *, delta=1.0, reduction="mean"):
        """A fake loss.

        Args:
          predictions: x.
        """

    fake.__module__ = "jaxloss.losses._regression"
    common = dict(task=_registry.Task.REGRESSION, inputs=_kinds.REGRESSION, toy_problem=_kinds.problems.REGRESSION,
                  formula="x", latex="x", summary="x", reference="x")
    with pytest.raises(TypeError, match="task must be"):
        _registry.register(**{**common, "task": "regression"})
    with pytest.raises(TypeError, match="inputs must be input kinds"):
        _registry.register(**{**common, "inputs": "regression"})
    with pytest.raises(ValueError, match="'gamma', which is not a keyword-only argument"):
        _registry.register(**common, hyperparameters={"gamma": _registry.Hyperparameter(low=0.0)})(fake)
    fake.__module__ = "somewhere.else"
    with pytest.raises(ValueError, match="not a family module"):
        _registry.register(**common)(fake)
