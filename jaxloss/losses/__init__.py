"""The loss catalog: one private module per family, each listing its losses in its ``__all__``.

Importing this package registers every loss (see ``jaxloss._registry``). The public names are the
family modules' ``__all__`` (a loss is added in its family's module alone), plus a few short aliases
below; ``jaxloss`` re-exports them all, and ``jl.catalog()`` lists them with their metadata.
"""

# Imported in this order, which is the catalog's order (registration order).
from jaxloss.losses import _classification, _margin, _ranking, _regression  # isort: skip
from jaxloss.losses import _embedding, _segmentation, _sequence, _structured, _surrogates  # isort: skip
from jaxloss.losses import _probabilistic, _robust  # isort: skip
from jaxloss.losses import _language_modelling  # isort: skip
from jaxloss.losses._classification import *  # noqa: F403
from jaxloss.losses._embedding import *  # noqa: F403
from jaxloss.losses._language_modelling import *  # noqa: F403
from jaxloss.losses._margin import *  # noqa: F403
from jaxloss.losses._probabilistic import *  # noqa: F403
from jaxloss.losses._ranking import *  # noqa: F403
from jaxloss.losses._regression import *  # noqa: F403
from jaxloss.losses._robust import *  # noqa: F403
from jaxloss.losses._segmentation import *  # noqa: F403
from jaxloss.losses._sequence import *  # noqa: F403
from jaxloss.losses._structured import *  # noqa: F403
from jaxloss.losses._surrogates import *  # noqa: F403

_FAMILIES = (_regression, _classification, _probabilistic, _robust, _margin, _ranking, _embedding,
             _segmentation, _sequence, _structured, _surrogates, _language_modelling)

# Short aliases, the same functions.
mse = mean_squared_error  # noqa: F405
mae = mean_absolute_error  # noqa: F405
cross_entropy = softmax_cross_entropy  # noqa: F405
bce = binary_cross_entropy  # noqa: F405
info_nce = ntxent  # noqa: F405

__all__ = [name for family in _FAMILIES for name in family.__all__] + ["mse", "mae", "cross_entropy", "bce", "info_nce"]


def __dir__() -> list[str]:  # the public API only (not the modules this one imports)
    return sorted(__all__)
