"""optax's loss names (``optax.losses``, 0.2.8), and what each is in jaxloss.

``jl.get`` and ``jl.info`` resolve every optax name we have an equivalent for (``EQUIVALENTS``: the
loss and the options that make it equal, up to the reduction: optax returns per-example values,
``reduction="none"`` here) and say so for the ones we lack (``MISSING``). Names that are already
jaxloss names or aliases (``cosine_distance``, ``ctc_loss``, ``kl_divergence``, ``log_cosh``, ``ntxent``,
``poly_loss_cross_entropy``, ``sigmoid_binary_cross_entropy``, ``softmax_cross_entropy``, ...) and the
names losses declare with ``register(optax=...)`` (``huber_loss``, ``perceptron_loss``, ...) resolve
through the registry itself. tests/test_papercuts.py compares every resolved name with optax.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EQUIVALENTS", "MISSING"]

#: optax name -> (jaxloss loss, options).
EQUIVALENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "softmax_cross_entropy_with_integer_labels": ("softmax_cross_entropy", {}),
    "safe_softmax_cross_entropy": ("softmax_cross_entropy", {}),  # finite with -inf logits here too
    "sigmoid_focal_loss": ("focal", {}),
    "hinge_loss": ("hinge", {}),
    "multiclass_hinge_loss": ("multiclass_hinge", {}),
    "multiclass_perceptron_loss": ("multiclass_hinge", {"margin": 0.0}),  # Crammer-Singer without a margin
    "huber_loss": ("huber", {}),
    "squared_error": ("mean_squared_error", {}),
    "triplet_margin_loss": ("triplet_margin", {}),
    "kl_divergence_with_log_targets": ("kl_divergence", {"log_targets": True}),
    "convex_kl_divergence": ("generalized_kl_divergence", {"log_input": True}),
    "ranking_softmax_loss": ("listwise_softmax", {"normalize": False}),
    # optax's Dice losses scale the smoothing term as the Tversky index at alpha = beta = 1/2 does;
    # jl.dice adds it to 2 TP and the sum instead (a different value for smooth > 0).
    "dice_loss": ("tversky", {}),
    "binary_dice_loss": ("tversky", {}),
}

#: optax name -> why jaxloss has no single loss for it, and what to use.
MISSING: dict[str, str] = {
    "l2_loss": "optax's l2_loss is 0.5 * (predictions - targets)^2: use 0.5 * jl.term('mse') (a composite)",
    "cosine_similarity": "a similarity, not a loss; jl.cosine_distance is 1 minus it",
    "ctc_loss_with_forward_probs": "it also returns the forward probabilities; jl.ctc is the loss",
    "make_fenchel_young_loss": "a constructor of losses, not a loss; jaxloss has no Fenchel-Young constructor yet",
    "smooth_labels": "a helper, not a loss; label_smoothing= is an option of the cross-entropies",
    "multiclass_generalized_dice_loss": "no generalized Dice loss in jaxloss yet (jl.dice, jl.tversky are the closest)",
}
