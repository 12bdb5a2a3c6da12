"""``trajectory``: every step of an optimizer on an objective, for drawing its path on a loss landscape.

``fit`` is the training loop for data (batches, shuffling, validation, early stopping, NaN guard,
callbacks) and records per epoch. A picture of how an optimizer walks over a loss surface needs the
parameters after *every* step, and a comparison of optimizers needs many short runs; ``fit`` can give
both (``batch_size`` = the data, one step per epoch, a callback keeping ``end.params``) but compiles
about twice as long and returns to the host after every step. This function is the bare loop: one
``jit(lax.scan)`` over full-batch steps of ``objective(params)``, with the visited parameters stacked
on the device.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxloss._arguments import callable_argument, check_input, integer_argument
from jaxloss.train._optimizers import optimizer_argument
from jaxloss.train._step import optimizer_step

__all__ = ["Trajectory", "trajectory"]


class Trajectory(NamedTuple):
    """What :func:`trajectory` returns (unpacks as ``params, losses, path``).

    Attributes:
      params: the parameters after the last step.
      losses: ``(steps,)``: the objective at each step, before its update.
      path: the parameter pytree with a leading axis of ``steps + 1``: the start, then the parameters
        after each step.
    """

    params: Any
    losses: jax.Array
    path: Any

    def points(self, every: int = 1) -> list[Any]:
        """Every ``every``-th point of the path (the last one always included) as parameter pytrees of
        NumPy arrays: the ``trajectories=`` of ``jaxloss.plot.loss_landscape``."""
        count = len(self.losses) + 1
        take = list(range(0, count, max(1, int(every))))
        if take[-1] != count - 1:
            take.append(count - 1)
        path = jax.device_get(self.path)
        return [jax.tree_util.tree_map(lambda a, i=i: a[i], path) for i in take]


def trajectory(objective: Callable[[Any], jax.Array], params: Any, optimizer: optax.GradientTransformation,
               steps: int) -> Trajectory:
    """Runs ``steps`` optax updates on ``objective(params)`` and records every parameter visited.

    One compiled program (``jax.jit`` of a ``lax.scan``) per call. Use it to draw optimizer paths on
    a loss surface (``jaxloss.plot.loss_landscape(..., trajectories={"Adam": t.points()})``) or to
    follow the parameters step by step; train models on data with :func:`jaxloss.fit`.

    Args:
      objective: a scalar function of the parameters (close over the data: every step is full-batch).
      params: the starting parameters (any pytree of arrays).
      optimizer: any optax transformation, or a name as ``fit`` takes (``"adam"``); those that read ``value=``, ``grad=`` or ``value_fn=``
        (``optax.lbfgs``) get them, as in ``fit``: both step through the same optimizer step.
      steps: the number of updates (>= 0).

    Returns:
      A :class:`Trajectory`: the final ``params``, the ``losses`` (one per step) and the ``path``
      (``steps + 1`` points, start included).

    >>> import jax.numpy as jnp, optax
    >>> t = trajectory(lambda p: jnp.sum((p - 3.0) ** 2), jnp.zeros(2), optax.sgd(0.25), 3)
    >>> t.losses.tolist(), t.path[:, 0].tolist()
    ([18.0, 4.5, 1.125], [0.0, 1.5, 2.25, 2.625])
    """
    callable_argument("trajectory", "objective", objective, "a scalar function of the parameters, objective(params)")
    check_input("trajectory", "params", params)
    if optimizer is None:
        raise TypeError("trajectory: optimizer is None; pass an optax transformation, e.g. optax.sgd(0.1), or a "
                        "name such as 'adam'.")
    optimizer = optimizer_argument("trajectory", "optimizer", optimizer)
    steps = integer_argument("trajectory", "steps", steps, low=0, meaning=" (the number of updates)")

    @jax.jit
    def loop(start: Any) -> tuple[Any, jax.Array, Any]:
        def one(carry: Any, _: None) -> tuple[Any, tuple[jax.Array, Any]]:
            p, state = carry
            step = optimizer_step(optimizer, objective, p, state)
            return (step.params, step.opt_state), (step.value, p)

        (final, _), (values, visited) = jax.lax.scan(one, (start, optimizer.init(start)), None, length=steps)
        path = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b[None]], axis=0), visited, final)
        return final, values, path

    return Trajectory(*loop(params))
