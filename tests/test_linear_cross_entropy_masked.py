"""Masked vocabularies in ``linear_cross_entropy`` (issue 24, class 4): equal to the materialised loss.

A ``-inf`` bias entry is how a language model masks a token out. ``linear_cross_entropy`` must then
give exactly what cross-entropy on the materialised logits gives (``softmax_cross_entropy`` on
``hidden @ weight.T + bias``, soft-capped, plus ``z_loss * logsumexp^2``): the same per-token values,
the same mean and the same three gradients, for every mask (none, random, whole vocabulary blocks,
the padded last block, all but one class, all classes), labels on masked classes (``inf``, as the
materialised loss gives), label smoothing, z-loss, soft-capping and ``ignore_index`` on and off,
block sizes that do and do not divide the vocabulary, token blocks, float64 and bfloat16.

Before the fix a -inf bias made the value NaN (``0 * -inf`` in the smoothing term even without
smoothing), inf with smoothing (the smoothing mean ran over all ``V`` logits), and with smoothing the
bias gradient put ``-eps / V`` on every masked class.

One compiled program per static configuration (the options that change the program: vocabulary,
block sizes, which terms are on, ``ignore_index``, dtype), reused for every mask and label set, and
by the hypothesis test: the option values (``eps``, ``z_loss``, ``c``) are arguments of the program.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxloss as jl
from references import REFERENCES

T, D = 9, 3
IGNORE = -100  # PyTorch's default ignore_index, on two tokens of every label set when ignore_index is on
EPS, Z_LOSS, CAP = 0.2, 1e-2, 2.5


class Config(NamedTuple):
    """What makes a compiled program: everything else is data."""

    vocab: int
    chunk: int
    smoothing: bool = False  # label_smoothing=EPS (an argument of the program) or the Python 0
    z_loss: bool = False
    softcap: bool = False
    ignore: bool = False
    token_chunk: int = 4096
    dtype: str = "float64"

    @property
    def id(self) -> str:
        on = [n for n in ("smoothing", "z_loss", "softcap", "ignore") if getattr(self, n)]
        tc = [f"tokens{self.token_chunk}"] if self.token_chunk < T else []
        return f"V{self.vocab}-C{self.chunk}-" + ("+".join(on + tc) or "plain") + f"-{self.dtype}"


def _options(cfg: Config, eps, zl, cap) -> dict:
    return {"label_smoothing": eps if cfg.smoothing else 0.0, "z_loss": zl if cfg.z_loss else 0.0,
            "logit_softcap": cap if cfg.softcap else None, "ignore_index": IGNORE if cfg.ignore else None}


def _fused(cfg: Config, h, w, b, y, eps, zl, cap, reduction):
    opts = _options(cfg, eps, zl, cap)
    return jl.linear_cross_entropy(h, y, weight=w, bias=b, chunk_size=cfg.chunk, token_chunk_size=cfg.token_chunk,
                                   reduction=reduction, **opts)


def _materialised(cfg: Config, h, w, b, y, eps, zl, cap, reduction):
    """softmax_cross_entropy on the full logits, plus z_loss * logsumexp^2 on the same (kept) rows."""
    opts = _options(cfg, eps, zl, cap)
    if cfg.dtype != "float64":  # the reference in float32 on the same (rounded) inputs
        h, w, b = (x.astype(jnp.float32) for x in (h, w, b))
    z = h @ w.T + b[None, :]
    if opts["logit_softcap"] is not None:
        z = cap * jnp.tanh(z / cap)
    per_token = jl.softmax_cross_entropy(z, y, label_smoothing=opts["label_smoothing"],
                                         ignore_index=opts["ignore_index"], reduction="none")
    keep = jnp.ones(y.shape, bool) if not cfg.ignore else y != IGNORE
    if cfg.z_loss:  # on the rows softmax_cross_entropy keeps; an excluded row's logits count as 0 there too
        lse = jax.nn.logsumexp(jnp.where(keep[:, None], z, 0.0), axis=-1)
        per_token = per_token + jnp.where(keep, zl * jnp.square(lse), 0.0)
    if reduction == "none":
        return per_token
    n = jnp.sum(keep)
    return jnp.where(n == 0, 0.0, jnp.sum(per_token) / jnp.maximum(n, 1))


@functools.lru_cache(maxsize=None)
def _program(cfg: Config, which: str):
    """One jitted program: the per-token values, the mean, and the mean's gradients (hidden, weight, bias)."""
    loss = _fused if which == "fused" else _materialised

    def run(h, w, b, y, eps, zl, cap):
        per_token = loss(cfg, h, w, b, y, eps, zl, cap, "none")
        mean, grads = jax.value_and_grad(lambda *p: loss(cfg, *p, y, eps, zl, cap, "mean"), argnums=(0, 1, 2))(h, w, b)
        return per_token, mean, grads

    return jax.jit(run)


def _head(cfg: Config, seed: int = 0):
    rng = np.random.default_rng(seed)
    dtype = jnp.dtype(cfg.dtype)
    return (jnp.asarray(rng.normal(size=(T, D)), dtype), jnp.asarray(rng.normal(size=(cfg.vocab, D)), dtype),
            rng.normal(size=cfg.vocab))


def _masks(vocab: int, chunk: int) -> dict[str, np.ndarray]:
    """Named masks (True = masked out), the ones that coincide for this vocabulary and block size once."""
    blocks = -(-vocab // chunk)
    ranges = {"none": [], "first_block": range(0, min(chunk, vocab)),
              "second_block": range(chunk, min(2 * chunk, vocab)), "last_block": range((blocks - 1) * chunk, vocab),
              "all_but_one": [c for c in range(vocab) if c != vocab // 2], "all_but_the_last": range(vocab - 1),
              "even": range(0, vocab, 2), "all": range(vocab)}
    rng = np.random.default_rng(vocab * 100 + chunk)
    masks = {"random": rng.random(vocab) < 0.4}
    for name, idx in ranges.items():
        m = np.zeros(vocab, bool)
        m[list(idx)] = True
        masks[name] = m
    unique: dict[bytes, str] = {}
    return {unique.setdefault(m.tobytes(), name): m for name, m in masks.items() if m.tobytes() not in unique}


def _label_sets(mask: np.ndarray, cfg: Config, seed: int) -> dict[str, np.ndarray]:
    """Labels on unmasked classes, and with token 0's label on a masked class (the loss is then inf)."""
    rng = np.random.default_rng(seed)
    free, masked = np.flatnonzero(~mask), np.flatnonzero(mask)
    sets = {}
    if free.size:
        sets["on_unmasked"] = rng.choice(free, T)
    if masked.size:
        y = rng.choice(free, T) if free.size else rng.integers(0, cfg.vocab, T)
        y[0] = masked[0]
        sets["one_on_a_masked_class"] = y
    if cfg.ignore:
        for y in sets.values():
            y[[1, 5]] = IGNORE  # y[0] stays: the label on a masked class must still count
        sets["all_ignored"] = np.full(T, IGNORE)
    return {name: y.astype(np.int32) for name, y in sets.items()}


def _compare(cfg: Config, h, w, b, y, eps=EPS, zl=Z_LOSS, cap=CAP, *, what: str) -> None:
    args = (h, w, jnp.asarray(b, h.dtype), jnp.asarray(y), eps, zl, cap)
    got, expected = _program(cfg, "fused")(*args), _program(cfg, "materialised")(*args)
    if cfg.dtype == "float64":
        rtol, atol = 1e-10, 1e-12
    else:  # bfloat16 inputs against the float32 materialised loss on the same rounded numbers
        rtol, atol = 2e-2, 2e-2
    names = ("per-token values", "mean", "d/dhidden", "d/dweight", "d/dbias")
    flat_got = (got[0], got[1], *got[2])
    flat_expected = (expected[0], expected[1], *expected[2])
    for name, g, e in zip(names, flat_got, flat_expected):
        g, e = np.asarray(g, np.float64), np.asarray(e, np.float64)
        # inf and NaN must sit at the same places (assert_allclose checks that), finite entries must agree
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol, err_msg=f"{cfg.id} {what}: {name}")


GRID = [
    Config(vocab, chunk, **opts)
    for vocab, chunk in ((16, 4), (16, 5), (16, 16), (7, 3))  # divides, does not divide, one block, small
    for opts in ({}, {"smoothing": True}, {"z_loss": True}, {"softcap": True},
                 {"smoothing": True, "z_loss": True, "softcap": True},
                 {"ignore": True, "token_chunk": 4}, {"smoothing": True, "z_loss": True, "ignore": True})
] + [
    Config(16, 5, token_chunk=4, smoothing=True, z_loss=True, softcap=True, ignore=True),
    Config(16, 5, dtype="bfloat16"), Config(16, 4, smoothing=True, z_loss=True, ignore=True, dtype="bfloat16"),
]


@pytest.mark.parametrize("cfg", GRID, ids=[c.id for c in GRID])
def test_masked_vocabulary_equals_the_materialised_cross_entropy(cfg):
    """Every mask and label set through one compiled program per configuration: values and gradients."""
    h, w, bias = _head(cfg)
    for mask_name, mask in _masks(cfg.vocab, cfg.chunk).items():
        b = np.where(mask, -np.inf, bias)
        for labels_name, y in _label_sets(mask, cfg, seed=cfg.vocab + cfg.chunk).items():
            _compare(cfg, h, w, b, y, what=f"mask {mask_name}, labels {labels_name}")


def test_the_fix_itself_a_masked_token_gives_the_finite_materialised_loss():
    """The reported failure, spelled out: finite values, and no smoothing mass on the masked classes."""
    cfg = Config(16, 5, smoothing=True)
    h, w, bias = _head(cfg)
    b = np.where(_masks(16, 5)["second_block"], -np.inf, bias)  # classes 5..9: one whole vocabulary block
    y = np.array([0, 1, 2, 3, 4, 10, 11, 12, 15], np.int32)
    for eps in (0.0, 0.1):
        value, grad_b = jax.value_and_grad(lambda b: jl.linear_cross_entropy(
            h, y, weight=w, bias=b, chunk_size=5, label_smoothing=eps), argnums=0)(jnp.asarray(b))
        assert np.isfinite(value)
        assert np.all(np.asarray(grad_b)[5:10] == 0), grad_b
        expected = REFERENCES["linear_cross_entropy"](h, y, w, bias=b, label_smoothing=eps)
        np.testing.assert_allclose(value, np.mean(expected), rtol=1e-12)


def test_eager_calls_match_as_well_a_label_on_a_masked_class_is_inf_not_an_error():
    h, w, bias = _head(Config(7, 3))
    b = bias.copy()
    b[[1, 4]] = -np.inf
    y = np.array([1, 0, 2, 3, 5, 6, 0, 2, 3], np.int32)  # token 0 on the masked class 1
    for eps in (0.0, 0.3):
        fused = jl.linear_cross_entropy(h, y, weight=w, bias=b, chunk_size=3, label_smoothing=eps, reduction="none")
        plain = jl.softmax_cross_entropy(h @ w.T + jnp.asarray(b)[None, :], y, label_smoothing=eps, reduction="none")
        np.testing.assert_allclose(fused, plain, rtol=1e-12)
        assert np.isposinf(fused[0]) and np.all(np.isfinite(fused[1:]))


@pytest.mark.parametrize("special", [np.inf, np.nan], ids=["inf", "nan"])
def test_an_inf_or_nan_bias_entry_gives_what_the_materialised_loss_gives(special):
    """Not a mask, but an input the materialised path accepts: the same inf or NaN, at the same places."""
    cfg = Config(16, 5, smoothing=True, z_loss=True, ignore=True)  # a grid program (no label is ignored here)
    h, w, bias = _head(cfg)
    b = bias.copy()
    b[7] = special
    y = np.arange(T, dtype=np.int32)  # token 7's label is the special class
    _compare(cfg, h, w, b, y, what=f"bias entry {special}")
    _compare(Config(16, 5), h, w, b, y, what=f"bias entry {special}, no smoothing")


@pytest.mark.parametrize("cfg", [Config(16, 5, smoothing=True),  # two of the grid's programs: no new compilation
                                 Config(16, 5, smoothing=True, z_loss=True, softcap=True)], ids=lambda c: c.id)
def test_the_numpy_reference_agrees_on_masked_vocabularies(cfg):
    """The independent float64 definition (references/language_modelling.py), smoothing over finite logits."""
    h, w, bias = _head(cfg)
    opts = {"label_smoothing": EPS, "z_loss": Z_LOSS if cfg.z_loss else 0.0,
            "logit_softcap": CAP if cfg.softcap else None}
    for mask_name, mask in _masks(16, 5).items():
        if mask.all():
            continue  # no finite logit: NaN, a case of the grid test, not of a definition
        b = np.where(mask, -np.inf, bias)
        for labels_name, y in _label_sets(mask, cfg, seed=3).items():
            got = _program(cfg, "fused")(h, w, jnp.asarray(b), jnp.asarray(y), EPS, Z_LOSS, CAP)[0]
            expected = REFERENCES["linear_cross_entropy"](h, y, w, bias=b, **opts)
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14, err_msg=f"{mask_name} {labels_name}")


def test_one_program_per_configuration():
    """New masks, labels and option values reuse the compiled program (a mask is data, not a shape)."""
    cfg = Config(16, 4, smoothing=True, z_loss=True, ignore=True)
    program = _program(cfg, "fused")
    h, w, bias = _head(cfg)
    program(h, w, jnp.asarray(bias), jnp.zeros(T, jnp.int32), EPS, Z_LOSS, CAP)
    before = program._cache_size()
    for mask in _masks(16, 4).values():
        program(h, w, jnp.asarray(np.where(mask, -np.inf, bias)), jnp.full(T, 3, jnp.int32), 0.05, 1e-3, CAP)
    assert program._cache_size() == before


HYPOTHESIS_CONFIGS = [  # the grid's programs again: hypothesis adds no compilation
    Config(16, 5, token_chunk=4, smoothing=True, z_loss=True, softcap=True, ignore=True),
    Config(16, 5, smoothing=True, z_loss=True, ignore=True), Config(16, 4, smoothing=True)]
assert set(HYPOTHESIS_CONFIGS) <= set(GRID)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.sampled_from(HYPOTHESIS_CONFIGS), st.lists(st.booleans(), min_size=16, max_size=16),
       st.lists(st.integers(0, 15), min_size=T, max_size=T), st.floats(0.0, 1.0), st.floats(0.0, 0.1),
       st.floats(0.5, 20.0), st.integers(0, 2**16))
def test_any_mask_labels_and_options_equal_the_materialised_loss(cfg, mask, labels, eps, zl, cap, seed):
    """Random masks (also on the labels' classes), labels, smoothing in [0, 1], z-loss and soft-cap."""
    h, w, bias = _head(cfg, seed)
    mask = np.asarray(mask)
    b = np.where(mask, -np.inf, bias * 3)
    y = np.asarray(labels, np.int32)
    if cfg.ignore:
        y[np.asarray(labels) % 5 == 0] = IGNORE
    _compare(cfg, h, w, b, y, eps, zl, cap, what=f"mask {mask.astype(int)}, labels {y}, eps {eps}")
