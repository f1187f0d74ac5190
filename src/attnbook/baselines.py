"""Classical baselines for the digit chapters, tuned on the validation split and tested once.

The neural models of chapters 6 and 7b are compared with three scikit-learn classifiers on the
raw 64 pixels: logistic regression (C tuned), an RBF support-vector classifier (C and gamma
tuned) and k-nearest neighbours (k tuned). Each grid point is fitted on the training split and
scored on the validation split; the best one (the first in grid order on a tie) is then scored
once on the test split. Nothing here is random, so no seed is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np
import torch
from threadpoolctl import threadpool_limits

__all__ = [
    "CLASSICAL_GRIDS",
    "ClassicalResult",
    "tuned_classical_baselines",
]

# name -> parameter grid, in the order tried. Small on purpose: 14 fits on about 1000 images.
CLASSICAL_GRIDS: dict[str, dict[str, tuple[object, ...]]] = {
    "logistic regression": {"C": (0.1, 1.0, 10.0, 100.0)},
    "RBF SVC": {"C": (1.0, 10.0), "gamma": (0.03, 0.1, 0.3)},
    "k-nearest neighbours": {"n_neighbors": (1, 3, 5, 7)},
}


@dataclass(frozen=True)
class ClassicalResult:
    """One tuned baseline: its chosen parameters, validation accuracy of the choice, test accuracy."""

    name: str
    params: dict[str, object]
    val_accuracy: float
    test_accuracy: float


def _make(name: str, params: dict[str, object]) -> object:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC

    if name == "logistic regression":
        return LogisticRegression(max_iter=5000, **params)
    if name == "RBF SVC":
        return SVC(kernel="rbf", **params)
    if name == "k-nearest neighbours":
        return KNeighborsClassifier(**params)
    raise ValueError(f"unknown baseline {name!r}; known: {sorted(CLASSICAL_GRIDS)}")


def _as_arrays(name: str, split: object) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, ...) tensor or array, labels (N,)) -> (features (N, D) float64, labels (N,) int64)."""
    if not isinstance(split, Sequence) or len(split) != 2:
        raise TypeError(f"{name} must be a pair (images (N, ...), labels (N,)), got {type(split)}")
    images, labels = split
    images = images.numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    labels = labels.numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if images.ndim < 2 or labels.ndim != 1 or len(images) != len(labels) or len(labels) == 0:
        raise ValueError(
            f"{name} must be non-empty images (N, ...) with labels (N,), got "
            f"{images.shape} and {labels.shape}"
        )
    features = images.reshape(len(images), -1).astype(np.float64)
    if not np.isfinite(features).all():
        raise ValueError(f"{name} images contain NaN or infinity")
    return features, labels.astype(np.int64)


def tuned_classical_baselines(
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    names: Sequence[str] | None = None,
) -> list[ClassicalResult]:
    """Tune each baseline on val (images (N, ...), labels (N,)), fit on train, score test once."""
    x_train, y_train = _as_arrays("train", train)
    x_val, y_val = _as_arrays("val", val)
    x_test, y_test = _as_arrays("test", test)
    if not x_train.shape[1] == x_val.shape[1] == x_test.shape[1]:
        raise ValueError(
            f"train, val and test need the same number of features, got "
            f"{x_train.shape[1]}, {x_val.shape[1]}, {x_test.shape[1]}"
        )
    chosen = list(CLASSICAL_GRIDS) if names is None else list(names)
    unknown = [name for name in chosen if name not in CLASSICAL_GRIDS]
    if unknown or not chosen:
        raise ValueError(f"names must be among {sorted(CLASSICAL_GRIDS)}, got {names!r}")
    results = []
    with threadpool_limits(1):  # tiny problems: extra BLAS threads only contend
        for name in chosen:
            results.append(_tune(name, x_train, y_train, x_val, y_val, x_test, y_test))
    return results


def _tune(
    name: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
) -> ClassicalResult:
    """Grid-search one baseline on the validation split, then score the winner on test once."""
    grid = CLASSICAL_GRIDS[name]
    best: tuple[float, dict[str, object], object] | None = None
    for values in product(*grid.values()):
        params = dict(zip(grid, values, strict=True))
        model = _make(name, params)
        model.fit(x_train, y_train)
        score = float(model.score(x_val, y_val))
        if best is None or score > best[0]:
            best = (score, params, model)
    assert best is not None
    val_accuracy, params, model = best
    test_accuracy = float(model.score(x_test, y_test))  # the only look at the test split
    return ClassicalResult(name, params, val_accuracy, test_accuracy)
