"""Language-modelling losses: cross-entropy over a large vocabulary without materialising the logits.

:func:`linear_cross_entropy` is softmax cross-entropy on ``hidden @ weight.T + bias``, computed
block by block over the vocabulary: a streaming log-sum-exp in the forward pass, and a backward pass
that recomputes each block's logits instead of storing them (Wijmans et al., "Cut Your Losses in
Large-Vocabulary Language Models", 2024). Peak temporary memory is one ``(tokens, chunk_size)``
block, whatever the vocabulary.

Recomputation is ``jax.checkpoint`` on the block under ``lax.scan`` rather than a hand-written
``custom_vjp``: the same memory (only five numbers per token and block are kept for the backward
pass) and the same work, while forward mode, Hessians and ``vmap`` keep working (a ``custom_vjp``
rules out forward mode, which the catalog's tests and ``jl.inspect`` use).

Masked vocabularies: a ``-inf`` bias entry masks a token out, exactly as a ``-inf`` logit does in
``softmax_cross_entropy``: it adds nothing to the log-sum-exp, label smoothing spreads its uniform
mass over the finite logits only, and a label on a masked token costs ``inf``. The result equals the
materialised cross-entropy for every input, ``-inf``, ``inf`` and NaN logits included.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxloss import _core, _kinds
from jaxloss._core import ArrayLike, Reduction
from jaxloss._kinds import problems
from jaxloss._registry import Hyperparameter, Task, register
from jaxloss.losses._class_inputs import LABEL_SMOOTHING, is_zero, mix, smoothing_array
from jaxloss.losses._scalar_options import single_number

__all__ = ["linear_cross_entropy"]


def _blocks(weight: jax.Array, bias: jax.Array | None, chunk: int) -> tuple[jax.Array, jax.Array]:
    """The head in vocabulary blocks ``(blocks, chunk, D)`` and ``(blocks, chunk)``, the last one zero-padded."""
    vocab, dim = weight.shape
    count = -(-vocab // chunk)
    pad = count * chunk - vocab
    w = jnp.pad(weight, ((0, pad), (0, 0))).reshape(count, chunk, dim)
    b = jnp.zeros((count, chunk), weight.dtype) if bias is None else jnp.pad(bias, (0, pad)).reshape(count, chunk)
    return w, b


def _logits(h: jax.Array, w: jax.Array, b: jax.Array, start: jax.Array, vocab: int, softcap: Any, work: Any,
            keep: jax.Array | None) -> tuple[jax.Array, jax.Array]:
    """One block's logits ``(T, C)`` in ``work`` precision (after soft-capping), and which columns are real.

    Excluded tokens (``keep`` False) get zero logits, as ``softmax_cross_entropy`` zeroes an excluded
    row: their bias could be all ``-inf``, and a row with no finite logit would send NaN back through
    the zero cotangent of an excluded token.
    """
    raw = jnp.dot(h, w.T, preferred_element_type=work) + b.astype(work)[None, :]
    if keep is not None:
        raw = jnp.where(keep[:, None], raw, jnp.zeros((), work))
    z = raw if softcap is None else softcap * jnp.tanh(raw / softcap)
    real = (start + jnp.arange(w.shape[0])) < vocab
    return z, real


def _shift(m: jax.Array) -> jax.Array:
    """The running maximum where it is finite, else 0 (``jax.nn.logsumexp``'s rule): ``inf - inf`` is NaN."""
    return jnp.where(jnp.isfinite(m), m, jnp.zeros((), m.dtype))


def _stats(h: jax.Array, w: jax.Array, b: jax.Array, labels: jax.Array, softcap: Any, vocab: int, work: Any,
           token_chunk: int, keep: jax.Array | None) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Per token: the log-sum-exp of the logits, the label's logit and the mean of the finite logits.

    One ``lax.scan`` over the vocabulary blocks carries five numbers per token (the running maximum,
    the rescaled sum of exponentials, the label's logit, the sum and the number of finite logits).
    Inside a vocabulary block, the tokens go by blocks of ``token_chunk`` (``lax.map``) when there are
    more. Both levels are ``jax.checkpoint``-ed: reverse mode keeps only the carries and recomputes a
    block's logits on the way back, so no pass holds more than one ``(token_chunk, chunk)`` block of
    logits. (Token blocks inside each vocabulary block, not around the whole scan: around it, the
    weight's gradient would be held once per token block.) Forward mode and higher derivatives work as
    for any JAX function. The running maximum is a constant to differentiation (``stop_gradient``): the
    log-sum-exp does not depend on it, and its gradient is then exactly the softmax.

    Masked (``-inf``) logits: the running maximum starts at the lowest finite number, so a block whose
    logits are all ``-inf`` leaves it finite and adds ``exp(-inf - m) = 0``, never ``exp(-inf + inf)``;
    a token with no finite logit at all ends with ``m + log(0) = -inf``, as ``jax.nn.logsumexp`` gives.
    An ``inf`` or NaN logit makes the maximum non-finite: the exponentials are then taken against 0
    (``_shift``), so that the sum is ``inf`` or NaN, not ``inf - inf``. Label smoothing's mean runs over
    the finite logits only, as ``softmax_cross_entropy``'s does: a ``-inf`` logit neither makes it
    ``-inf`` nor receives its gradient.
    """
    chunk = w.shape[1]
    lowest = jnp.finfo(work).min  # padded columns: the lowest finite number, never -inf
    tokens = h.shape[0]
    parts = max(1, -(-tokens // token_chunk))
    size = -(-tokens // parts)  # equal token blocks, the last one zero-padded (no tokens: one empty block)
    pad = parts * size - tokens
    hb = jnp.pad(h, ((0, pad), (0, 0))).reshape(parts, size, h.shape[1])
    yb = jnp.pad(labels, (0, pad)).reshape(parts, size)
    kb = None if keep is None else jnp.pad(keep, (0, pad)).reshape(parts, size)

    @jax.checkpoint
    def update(carry: tuple, wb: jax.Array, bb: jax.Array, start: jax.Array, ht: jax.Array, yt: jax.Array,
               kt: jax.Array | None) -> tuple:
        m, s, picked, total, count = carry
        z, real = _logits(ht, wb, bb, start, vocab, softcap, work, kt)
        zm = jnp.where(real[None, :], z, lowest)
        m_new = jax.lax.stop_gradient(jnp.maximum(m, jnp.max(zm, axis=1)))
        shift = _shift(m_new)
        e = jnp.where(real[None, :], jnp.exp(zm - shift[:, None]), 0)
        s = s * jnp.exp(_shift(m) - shift) + jnp.sum(e, axis=1)
        index = yt - start
        inside = (index >= 0) & (index < chunk)
        mine = jnp.take_along_axis(z, jnp.clip(index, 0, chunk - 1)[:, None], axis=1)[:, 0]
        picked = picked + jnp.where(inside, mine, 0)
        finite = real[None, :] & jnp.isfinite(z)  # -inf logits (masked tokens) are not in the smoothing mean
        total = total + jnp.sum(jnp.where(finite, z, 0), axis=1)
        count = count + jnp.sum(finite, axis=1, dtype=work)
        return m_new, s, picked, total, count

    @jax.checkpoint
    def block(carry: tuple, xs: tuple) -> tuple:
        wb, bb, start = xs
        if parts == 1:
            return tuple(c[None] for c in update(tuple(c[0] for c in carry), wb, bb, start, hb[0], yb[0],
                                                 None if kb is None else kb[0])), None
        if kb is None:
            return jax.lax.map(lambda t: update(t[:5], wb, bb, start, t[5], t[6], None), (*carry, hb, yb)), None
        return jax.lax.map(lambda t: update(t[:5], wb, bb, start, t[5], t[6], t[7]), (*carry, hb, yb, kb)), None

    starts = jnp.arange(w.shape[0]) * chunk
    init = (jnp.full((parts, size), lowest, work), *(jnp.zeros((parts, size), work) for _ in range(4)))
    (m, s, picked, total, count), _ = jax.lax.scan(block, init, (w, b, starts))
    mean = total / jnp.maximum(count, 1)  # no finite logit: 0, as softmax_cross_entropy's masked mean
    return tuple(x.reshape(-1)[:tokens] for x in (_shift(m) + jnp.log(s), picked, mean))


@register(
    task=Task.MULTICLASS, aliases=("fused_linear_cross_entropy", "cut_cross_entropy"),
    formula="logsumexp(z) - z_y  with z = hidden @ weight.T + bias (optionally c tanh(z / c)), "
            "(1 - eps) / eps smoothing as cross-entropy, + z_loss logsumexp(z)^2",
    latex=(r"\operatorname{logsumexp}(z) - z_y + \lambda \operatorname{logsumexp}(z)^2"
           r", \quad z = h W^{\top} + b \quad \left(\text{or } c \tanh(z / c)\right)"
           r", \quad \lambda = \mathtt{z\_loss}"),
    summary="next-token prediction over a large vocabulary: cross-entropy of a linear head without its logits",
    hyperparameters={
        "label_smoothing": LABEL_SMOOTHING,
        "z_loss": Hyperparameter(low=0.0, doc="weight of logsumexp^2 (PaLM uses 1e-4)", slider=(0.0, 0.01)),
        "logit_softcap": Hyperparameter(low=0.0, low_open=True, doc="c in c tanh(z / c) (Gemma 2: 30)",
                                        slider=(5.0, 50.0)),
    },
    properties=("nonnegative", "convex", "smooth"),
    inputs=_kinds.LINEAR_HEAD, toy_problem=problems.LANGUAGE_MODEL,
    reference="Wijmans et al., Cut Your Losses in Large-Vocabulary Language Models, 2024; PaLM (z-loss), "
              "Gemma 2 (soft-capping)",
)
def linear_cross_entropy(
    hidden: ArrayLike | tuple, labels: ArrayLike, *, weight: ArrayLike | None = None, bias: ArrayLike | None = None,
    chunk_size: int = 2048, token_chunk_size: int = 4096, ignore_index: int | None = None, label_smoothing: float = 0.0, z_loss: float = 0.0,
    logit_softcap: float | None = None, weights: ArrayLike | None = None, where: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> jax.Array:
    """Softmax cross-entropy on the logits ``hidden @ weight.T + bias``, without materialising them.

    Equals ``softmax_cross_entropy(hidden @ weight.T + bias, labels, label_smoothing=...)`` in value and
    in its gradients with respect to ``hidden``, ``weight`` and ``bias``, but never holds the
    ``(tokens, vocabulary)`` logits or their gradient: the vocabulary is visited in blocks of
    ``chunk_size`` rows of ``weight`` with a streaming log-sum-exp, and the backward pass recomputes
    each block. Use it for language models whose vocabulary (32k-256k tokens) makes the logits the
    largest array of training.

    Per token, with ``z = hidden @ weight.T + bias`` (soft-capped to ``c tanh(z / c)`` when
    ``logit_softcap=c``, as Gemma 2 does) and ``V`` classes::

        loss = logsumexp(z) - (1 - eps) z_y - eps mean(z) + z_loss * logsumexp(z)^2

    which is cross-entropy with label smoothing ``eps`` (the target ``(1 - eps) onehot + eps / V``)
    plus PaLM's z-loss.

    Masked tokens: a ``-inf`` entry of ``bias`` masks that token out, as a ``-inf`` logit does in
    ``softmax_cross_entropy``, and the two agree on every input: the token adds nothing to the
    log-sum-exp and gets no gradient, label smoothing's ``mean(z)`` and ``V`` run over the finite
    logits only, and a label on a masked token costs ``inf``. With ``logit_softcap=c`` the capped
    logit of a ``-inf`` entry is ``-c``, a finite logit like any other (the formula on the
    materialised logits): soft-capping un-masks it.

    Args:
      hidden: the last hidden states, shape ``(..., D)`` (tokens on the leading axes); or the pair
        ``(hidden, weight)`` (or triple with ``bias``) a model returns, so that ``fit`` and
        ``jl.objective`` train the head from the parameters (``model(params, x) -> (h, params["head"])``).
      labels: integer next-token ids, shape ``(...)``, in ``[0, V)``.
      weight: the output layer, shape ``(V, D)`` (PyTorch's ``nn.Linear(D, V).weight``, or the tied
        embedding matrix). Keyword-only: the loss keeps jaxloss's ``(predictions, targets)`` order.
      bias: optional ``(V,)``.
      chunk_size: vocabulary rows per block (``V`` need not divide).
      token_chunk_size: the most tokens per block (more tokens are split into equal blocks). The largest
        temporaries are a few ``token_chunk_size x chunk_size`` blocks (32 MiB each in float32 at the
        defaults), whatever the number of tokens and the vocabulary.
      ignore_index: a label to skip (padding), like ``where``.
      label_smoothing, z_loss, logit_softcap: as in the formula. ``label_smoothing`` and ``z_loss``
        are numbers or one value per token (broadcastable to ``labels``' shape), differentiable;
        ``logit_softcap`` is a single number (an array raises a ``TypeError``).
      weights, where, reduction: per-token weights, mask and reduction (``"mean"`` over the tokens kept).

    Numerical care: float32 accumulation for half-precision inputs (the products in the inputs' dtype
    with ``preferred_element_type=float32``); the log-sum-exp streams its running maximum, so logits
    of any size stay finite, and a block of ``-inf`` logits leaves it finite (no ``-inf - -inf``);
    padded vocabulary rows are masked with finite values (no ``-inf`` and no NaN in any gradient);
    excluded tokens are zeroed before the products and their logits are 0, bias included.

    >>> import jax, jax.numpy as jnp, jaxloss as jl
    >>> h = jax.random.normal(jax.random.key(0), (6, 4)); w = jax.random.normal(jax.random.key(1), (10, 4))
    >>> y = jnp.array([1, 2, 3, 4, 5, 9])
    >>> fused = jl.linear_cross_entropy(h, y, weight=w, chunk_size=4)
    >>> bool(jnp.allclose(fused, jl.softmax_cross_entropy(h @ w.T, y), rtol=1e-5))
    True
    """
    fn = "linear_cross_entropy"
    if isinstance(hidden, (tuple, list)):  # a model's (hidden, weight[, bias])
        if weight is not None or len(hidden) not in (2, 3):
            raise ValueError(f"{fn}: hidden may be the pair (hidden, weight) or triple (hidden, weight, bias) a model "
                             f"returns, with no weight= keyword; got {len(hidden)} items"
                             + (" and weight=" if weight is not None else "") + ".")
        if len(hidden) == 3 and bias is not None:
            raise ValueError(f"{fn}: the bias came twice, in the model's outputs and as bias=; pass it once.")
        hidden, weight, bias = (*hidden, bias) if len(hidden) == 2 else hidden
    if weight is None:
        raise TypeError(f"{fn}: the output layer is missing: pass weight=W of shape (V, D), or predictions "
                        "(hidden, W) from the model.")
    h = _core.float_array(hidden, name="hidden", fn=fn)
    out_dtype = h.dtype
    _core.check_rank(h, min_rank=1, fn=fn, name="hidden", meaning="features on the last axis")
    w = _core.float_array(weight, name="weight", fn=fn)
    if w.ndim != 2 or w.shape[1] != h.shape[-1]:
        raise ValueError(f"{fn}: weight must have shape (V, D) with D = hidden's last axis ({h.shape[-1]}); got "
                         f"{tuple(w.shape)} for hidden of shape {tuple(h.shape)}. A (D, V) kernel is weight.T.")
    vocab = w.shape[0]
    b = None
    if bias is not None:
        b = _core.float_array(bias, name="bias", fn=fn)
        if b.shape != (vocab,):
            raise ValueError(f"{fn}: bias must have shape ({vocab},), one per row of weight; got {tuple(b.shape)}.")
    for name, size, what in (("chunk_size", chunk_size, "vocabulary rows"), ("token_chunk_size", token_chunk_size,
                                                                          "tokens")):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"{fn}: {name} must be a positive whole number of {what}; got {size!r}.")
    t = _core.as_array(labels, name="labels", fn=fn)
    example_shape = h.shape[:-1]
    if not jnp.issubdtype(t.dtype, jnp.integer):
        raise TypeError(f"{fn}: labels must be integer token ids of shape {tuple(example_shape)}; got dtype "
                        f"{t.dtype}. Convert with labels.astype(jnp.int32).")
    if t.shape != example_shape:
        raise ValueError(f"{fn}: labels must have hidden's shape without its feature axis, {tuple(example_shape)}; "
                         f"got {tuple(t.shape)} for hidden of shape {tuple(h.shape)}.")
    mask = _core.mask_array(where, example_shape, fn=fn)
    if ignore_index is not None:
        keep = t != ignore_index
        mask = keep if mask is None else mask & keep
    _core.check_class_labels(t, vocab, fn=fn, mask=mask, name="labels")
    t = _core.exclude(t, mask)
    valid = (t >= 0) & (t < vocab)
    h = _core.exclude(h, mask)
    work = _core.compute_dtype(jnp.result_type(h.dtype, w.dtype))
    if h.dtype != w.dtype:  # one product dtype; half precision stays half with float32 accumulation
        h, w = h.astype(work), w.astype(work)
    if logit_softcap is not None:
        single_number(logit_softcap, name="logit_softcap", fn=fn, meaning="the cap of every logit, c tanh(z / c)")
    softcap = None if logit_softcap is None else jnp.asarray(logit_softcap, work)
    flat_h = h.reshape(-1, h.shape[-1])
    flat_t = jnp.clip(t.reshape(-1), 0, vocab - 1).astype(jnp.int32)
    flat_keep = None if mask is None else mask.reshape(-1)
    wb, bb = _blocks(w, None if b is None else b.astype(w.dtype), min(chunk_size, vocab))
    stats = _stats(flat_h, wb, bb, flat_t, softcap, vocab, work, token_chunk_size, flat_keep)
    lse, picked, mean = (v.reshape(example_shape) for v in stats)
    # softmax_cross_entropy's own form, (1 - eps)(lse - z_y) + eps (lse - mean), not lse - (1 - eps) z_y
    # - eps mean: the same number, and the same inf or NaN where a label sits on a masked token. A term
    # whose weight is 0 adds nothing, as there, however the 0 arrives: 0 * inf would turn an inf logit's
    # inf into NaN (a concrete 0 skips the term; a traced 0 is guarded, value and gradient).
    values = lse - picked
    if not is_zero(label_smoothing):
        values = mix(values, lse - mean, smoothing_array(label_smoothing, example_shape, fn=fn, mask=mask, dtype=work))
    if not is_zero(z_loss):
        z = _core.parameter_array(z_loss, example_shape, name="z_loss", fn=fn, mask=mask, fill=0.0).astype(work)
        off = (z == 0) & ~jnp.isfinite(lse)
        values = values + jnp.where(off, 0.0, z * jnp.square(jnp.where(off, 0.0, lse)))  # double where
    values = _core.poison_invalid(values, valid)
    return _core.reduce(values, reduction=reduction, weights=weights, mask=mask, dtype=out_dtype, fn=fn)

