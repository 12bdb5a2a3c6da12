"""The playground's datasets and input features (private): TensorFlow Playground's, plus moons and multiclass.

Points live in the square ``[-EXTENT, EXTENT]^2``. Every dataset is a pure function of a NumPy
generator, the number of points and the noise level (0 to 0.5), so a seed reproduces it exactly.
Classification labels are class indices (0 is TensorFlow Playground's orange, 1 its blue);
regression targets lie in about ``[-1, 1]``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable

import jax.numpy as jnp
import numpy as np

#: Half the side of the square the points and the decision-boundary grid cover.
EXTENT = 6.0


class PlaygroundTask(str, enum.Enum):
    """What the network learns: it decides which losses and metrics the page offers."""

    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"

    def __str__(self) -> str:
        return self.value


Maker = Callable[[np.random.Generator, int, float], tuple[np.ndarray, np.ndarray]]


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One dataset: its name (URL and JSON), label, task, number of classes and maker."""

    name: str
    label: str
    task: PlaygroundTask
    classes: int  # 2 for binary, k for multiclass, 0 for regression
    make: Maker


def _uniform_noise(rng: np.random.Generator, n: int, noise: float, scale: float) -> np.ndarray:
    return rng.uniform(-scale, scale, (n, 2)) * noise


def _circle(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    radius = 5.0
    inner = np.arange(n) < n // 2  # half the points inside (blue), half in the ring (orange)
    r = np.where(inner, rng.uniform(0, radius * 0.5, n), rng.uniform(radius * 0.7, radius, n))
    angle = rng.uniform(0, 2 * np.pi, n)
    x = np.stack([r * np.cos(angle), r * np.sin(angle)], 1) + _uniform_noise(rng, n, noise, radius)
    y = (np.hypot(x[:, 0], x[:, 1]) < radius * 0.5).astype(np.int32)
    return x, y


def _xor(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(-5, 5, (n, 2))
    x += np.where(x > 0, 0.3, -0.3)  # a gap along the axes
    x_noisy = x + _uniform_noise(rng, n, noise, 5.0)
    return x_noisy, (x[:, 0] * x[:, 1] >= 0).astype(np.int32)


def _gauss(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    y = (np.arange(n) % 2).astype(np.int32)
    spread = 0.5 + 3.5 * noise  # noise widens the two clouds until they overlap
    centre = np.where(y[:, None] == 1, 2.0, -2.0)
    return centre + rng.normal(0, spread, (n, 2)) * np.sqrt(0.5), y


def _spiral_arms(rng: np.random.Generator, n: int, noise: float, arms: int) -> tuple[np.ndarray, np.ndarray]:
    y = (np.arange(n) % arms).astype(np.int32)
    r = rng.uniform(0.05, 1.0, n) * 5.0
    t = 1.75 * r / 5.0 * 2 * np.pi + 2 * np.pi * y / arms
    x = np.stack([r * np.sin(t), r * np.cos(t)], 1) + _uniform_noise(rng, n, noise, 1.0)
    return x, y


def _spiral(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    return _spiral_arms(rng, n, noise, 2)


def _moons(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    y = (np.arange(n) % 2).astype(np.int32)
    t = rng.uniform(0, np.pi, n)
    upper = np.stack([np.cos(t), np.sin(t)], 1)
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1)
    x = (np.where(y[:, None] == 0, upper, lower) - np.array([0.5, 0.25])) * 3.6
    return x + rng.normal(0, 2.0 * noise + 0.05, (n, 2)), y


def _blobs(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    k = 4
    y = (np.arange(n) % k).astype(np.int32)
    angle = 2 * np.pi * y / k + np.pi / 4
    centre = 3.2 * np.stack([np.cos(angle), np.sin(angle)], 1)
    return centre + rng.normal(0, 0.6 + 3.0 * noise, (n, 2)), y


def _arms(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    return _spiral_arms(rng, n, noise, 3)


def _plane(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(-EXTENT, EXTENT, (n, 2))
    target = (x[:, 0] + x[:, 1]) / (2 * EXTENT)
    return x + _uniform_noise(rng, n, noise, EXTENT), target


def _peaks(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(-EXTENT, EXTENT, (n, 2))
    centres = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]])
    d2 = ((x[:, None, :] - centres[None, :, :2]) ** 2).sum(-1)
    target = (centres[None, :, 2] * np.exp(-d2 / 2.0)).sum(1)
    return x + _uniform_noise(rng, n, noise, EXTENT), np.clip(target, -1, 1)


#: Every dataset, in the order the page shows them.
DATASETS: tuple[Dataset, ...] = (
    Dataset("circle", "Circle", PlaygroundTask.BINARY, 2, _circle),
    Dataset("xor", "Exclusive or", PlaygroundTask.BINARY, 2, _xor),
    Dataset("gauss", "Gaussian", PlaygroundTask.BINARY, 2, _gauss),
    Dataset("spiral", "Spiral", PlaygroundTask.BINARY, 2, _spiral),
    Dataset("moons", "Moons", PlaygroundTask.BINARY, 2, _moons),
    Dataset("blobs", "Four blobs", PlaygroundTask.MULTICLASS, 4, _blobs),
    Dataset("arms", "Three-arm spiral", PlaygroundTask.MULTICLASS, 3, _arms),
    Dataset("plane", "Plane (regression)", PlaygroundTask.REGRESSION, 0, _plane),
    Dataset("peaks", "Peaks (regression)", PlaygroundTask.REGRESSION, 0, _peaks),
)
BY_NAME = {d.name: d for d in DATASETS}


@dataclasses.dataclass(frozen=True)
class Split:
    """Training and test points: features ``x`` (n, 2) float32 and targets ``y`` (int32 labels or float32)."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


def make(dataset: Dataset, *, points: int, noise: float, train_fraction: float, seed: int) -> Split:
    """The points of ``dataset``, shuffled and split; the same arguments give the same arrays."""
    rng = np.random.default_rng(seed)
    x, y = dataset.make(rng, points, noise)
    order = rng.permutation(points)
    x, y = x[order].astype(np.float32), y[order]
    y = y.astype(np.float32 if dataset.task is PlaygroundTask.REGRESSION else np.int32)
    cut = min(max(int(round(points * train_fraction)), 1), points - 1)
    return Split(x[:cut], y[:cut], x[cut:], y[cut:])


#: The input features a network may read (TensorFlow Playground's seven), in display order.
FEATURES: dict[str, tuple[str, Callable[[jnp.ndarray], jnp.ndarray]]] = {
    "x1": ("X\u2081", lambda p: p[..., 0]),
    "x2": ("X\u2082", lambda p: p[..., 1]),
    "x1sq": ("X\u2081\u00b2", lambda p: p[..., 0] ** 2),
    "x2sq": ("X\u2082\u00b2", lambda p: p[..., 1] ** 2),
    "x1x2": ("X\u2081X\u2082", lambda p: p[..., 0] * p[..., 1]),
    "sinx1": ("sin(X\u2081)", lambda p: jnp.sin(p[..., 0])),
    "sinx2": ("sin(X\u2082)", lambda p: jnp.sin(p[..., 1])),
}


def features(points: jnp.ndarray, names: tuple[str, ...]) -> jnp.ndarray:
    """The chosen features of ``points`` (n, 2), stacked as (n, len(names))."""
    return jnp.stack([FEATURES[name][1](points) for name in names], axis=-1)


def grid(size: int) -> np.ndarray:
    """(size * size, 2) points of a grid over the square, row 0 at the top (largest x2)."""
    ticks = np.linspace(-EXTENT, EXTENT, size, dtype=np.float32)
    xx, yy = np.meshgrid(ticks, ticks[::-1])
    return np.stack([xx.ravel(), yy.ravel()], 1)
