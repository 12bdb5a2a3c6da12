"""Aggregators: Jacobian descent's answer to losses that pull against each other.

A composite's terms each have a gradient; stacked, they are the rows of the Jacobian ``J`` (``m`` terms
x ``n`` parameters). A weighted sum follows ``J^T 1`` and can increase a term whose gradient conflicts
with the others. An aggregator maps ``J`` to one update direction ``d`` with guarantees instead: the
non-conflicting ones never increase a term to first order (``J @ d >= 0``). Each is a pure, jittable
function ``aggregator(J, **options) -> d`` (float32 and float64); those that depend on ``J`` only
through its Gramian ``G = J J^T`` also give their weights, ``aggregator.weights(G) -> w`` with
``d = J^T w``; ``aggregator.properties`` says what it guarantees. :func:`aggregate` applies one to
the gradients of a pytree of parameters.

>>> import jax.numpy as jnp
>>> from jaxloss import aggregators
>>> J = jnp.array([[1.0, 0.0], [-0.5, 1.0]])          # two terms that conflict on the first parameter
>>> d = aggregators.upgrad(J)
>>> bool(jnp.all(J @ d >= -1e-6))                     # neither term increases
True
"""

from jaxloss.aggregators._base import Properties as Properties
from jaxloss.aggregators._cone import cagrad as cagrad
from jaxloss.aggregators._cone import dualproj as dualproj
from jaxloss.aggregators._cone import mgda as mgda
from jaxloss.aggregators._cone import nash_mtl as nash_mtl
from jaxloss.aggregators._cone import upgrad as upgrad
from jaxloss.aggregators._pytree import aggregate as aggregate
from jaxloss.aggregators._pytree import jacobian as jacobian
from jaxloss.aggregators._surgery import aligned_mtl as aligned_mtl
from jaxloss.aggregators._surgery import config as config
from jaxloss.aggregators._surgery import graddrop as graddrop
from jaxloss.aggregators._surgery import imtl_g as imtl_g
from jaxloss.aggregators._surgery import mean as mean
from jaxloss.aggregators._surgery import pcgrad as pcgrad

#: Every aggregator by name (the tests, the demo and the docs iterate over it).
AGGREGATORS = {fn.__name__: fn for fn in (upgrad, dualproj, mgda, cagrad, nash_mtl, pcgrad, graddrop, imtl_g,
                                          aligned_mtl, config, mean)}

__all__ = ["AGGREGATORS", "Properties", "aggregate", "jacobian", *AGGREGATORS]
