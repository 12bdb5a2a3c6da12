"""Input kinds and toy-problem kinds as objects: the typed vocabulary a loss registers with (private).

A loss says what it takes with an object, ``register(inputs=_kinds.CLASS_LOGITS,
toy_problem=_kinds.problems.MULTICLASS)``, and everything that depends on it reads the object: the
tests, the stability card and the benchmarks make their inputs with ``kind.random``, ``kind.perfect``
and ``kind.hard``; the inspector draws its gradient curve with ``kind.curve_inputs``; metrics know
whether predictions are logits from ``kind.logits``; ``jaxloss.toys`` builds the toy problem from the
``ToyKind``. Adding a kind is one object in the family's module here, listed below.
"""

from jaxloss._kinds import problems as problems
from jaxloss._kinds._base import FEATURES as FEATURES
from jaxloss._kinds._base import NUM_CLASSES as NUM_CLASSES
from jaxloss._kinds._base import CurveAxis as CurveAxis
from jaxloss._kinds._base import InputKind as InputKind
from jaxloss._kinds._base import Sample as Sample
from jaxloss._kinds._classification import BINARY_LOGITS as BINARY_LOGITS
from jaxloss._kinds._classification import CLASS_DISTRIBUTION as CLASS_DISTRIBUTION
from jaxloss._kinds._classification import CLASS_LOG_PROBS as CLASS_LOG_PROBS
from jaxloss._kinds._classification import CLASS_LOGITS as CLASS_LOGITS
from jaxloss._kinds._classification import MULTILABEL_INDICES as MULTILABEL_INDICES
from jaxloss._kinds._classification import MULTILABEL_LOGITS as MULTILABEL_LOGITS
from jaxloss._kinds._classification import SIGNED_BINARY as SIGNED_BINARY
from jaxloss._kinds._embedding import CONTRASTIVE_BATCH as CONTRASTIVE_BATCH
from jaxloss._kinds._embedding import EMBEDDING_PAIRS as EMBEDDING_PAIRS
from jaxloss._kinds._embedding import EMBEDDING_PAIRS_BINARY as EMBEDDING_PAIRS_BINARY
from jaxloss._kinds._embedding import EMBEDDING_VECTORS as EMBEDDING_VECTORS
from jaxloss._kinds._embedding import TRIPLET as TRIPLET
from jaxloss._kinds._language_modelling import LINEAR_HEAD as LINEAR_HEAD
from jaxloss._kinds._ranking import DISTANCES as DISTANCES
from jaxloss._kinds._ranking import PAIRWISE_SCORES as PAIRWISE_SCORES
from jaxloss._kinds._ranking import RANKING_LISTS as RANKING_LISTS
from jaxloss._kinds._regression import COUNT_REGRESSION as COUNT_REGRESSION
from jaxloss._kinds._regression import NONNEGATIVE_MEASURE as NONNEGATIVE_MEASURE
from jaxloss._kinds._regression import NONNEGATIVE_REGRESSION as NONNEGATIVE_REGRESSION
from jaxloss._kinds._regression import POSITIVE_REGRESSION as POSITIVE_REGRESSION
from jaxloss._kinds._regression import REGRESSION as REGRESSION
from jaxloss._kinds._segmentation import SEGMENTATION_BINARY as SEGMENTATION_BINARY
from jaxloss._kinds._segmentation import SEGMENTATION_MULTICLASS as SEGMENTATION_MULTICLASS
from jaxloss._kinds._sequence import CTC as CTC

#: Every input kind.
ALL: tuple[InputKind, ...] = (
    REGRESSION, NONNEGATIVE_REGRESSION, POSITIVE_REGRESSION, COUNT_REGRESSION, NONNEGATIVE_MEASURE,
    BINARY_LOGITS, SIGNED_BINARY, CLASS_LOGITS, CLASS_LOG_PROBS, CLASS_DISTRIBUTION, MULTILABEL_LOGITS,
    MULTILABEL_INDICES, PAIRWISE_SCORES, DISTANCES, RANKING_LISTS, EMBEDDING_VECTORS, EMBEDDING_PAIRS,
    EMBEDDING_PAIRS_BINARY, TRIPLET, CONTRASTIVE_BATCH, SEGMENTATION_BINARY, SEGMENTATION_MULTICLASS, CTC, LINEAR_HEAD,
)


def by_name(name: str) -> InputKind:
    """The input kind called ``name`` (for people and command lines; code holds the objects)."""
    for kind in ALL:
        if kind.name == name:
            return kind
    raise KeyError(f"no input kind {name!r}; known kinds: {', '.join(k.name for k in ALL)}")
