"""scikit-learn's bundled handwritten digits as images, row tokens and a seeded stratified split.

``load_digits`` ships 1797 scans of handwritten digits, 8 x 8 pixels with 17 grey levels
(0..16), with the package itself, so nothing is downloaded. Here the pixels are scaled to
[0, 1] and the scans are partitioned per class into disjoint train / validation / test sets.

API (stable; other chapters import it)::

    splits = load_digit_splits(seed=0)
    images, labels = splits.train        # (N, 8, 8) float32 in [0, 1], (N,) int64 in 0..9
    fit(model, splits.train, validation=splits.val, epochs=...)

An image ``(N, 8, 8)`` *is* a sequence of 8 row tokens with 8 features each, so a sequence
model reads it directly; ``as_row_tokens`` / ``as_pixel_vectors`` reshape it explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from attnbook.checks import require_shape
from attnbook.seeding import numpy_rng

__all__ = [
    "NUM_CLASSES",
    "DigitSplits",
    "as_pixel_vectors",
    "as_row_tokens",
    "check_digit_images",
    "digit_arrays",
    "load_digit_splits",
]

NUM_CLASSES = 10
_SIDE = 8


@lru_cache(maxsize=1)
def digit_arrays() -> tuple[np.ndarray, np.ndarray]:
    """All 1797 scans: images (1797, 8, 8) float32 in [0, 1] and labels (1797,) int64 (read-only)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)
    labels = bunch.target.astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


@dataclass(frozen=True)
class DigitSplits:
    """Disjoint stratified splits; each of train/val/test is (images (N, 8, 8) float32, labels (N,) int64)."""

    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    indices: dict[str, np.ndarray]

    @property
    def sizes(self) -> dict[str, int]:
        """Number of scans per split, e.g. {'train': 1077, 'val': 360, 'test': 360}."""
        return {name: len(self.indices[name]) for name in ("train", "val", "test")}


def _check_fraction(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}")
    return float(value)


def load_digit_splits(
    seed: int = 0, *, val_fraction: float = 0.2, test_fraction: float = 0.2
) -> DigitSplits:
    """Seeded stratified split of load_digits into train/val/test: images (N, 8, 8) in [0, 1], labels (N,).

    Within every class the scans are shuffled by ``seed`` and cut into the three fractions
    (rounded), so every split has nearly the same class proportions and no scan is in two splits.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    val_fraction = _check_fraction("val_fraction", val_fraction)
    test_fraction = _check_fraction("test_fraction", test_fraction)
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"val_fraction + test_fraction must be < 1 to leave training data, got "
            f"{val_fraction} + {test_fraction}"
        )
    images, labels = digit_arrays()
    rng = numpy_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for digit in range(NUM_CLASSES):
        members = rng.permutation(np.flatnonzero(labels == digit))
        n_test = round(test_fraction * len(members))
        n_val = round(val_fraction * len(members))
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test : n_test + n_val])
        parts["train"].append(members[n_test + n_val :])
    indices = {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}

    def take(name: str) -> tuple[torch.Tensor, torch.Tensor]:
        chosen = indices[name]
        return torch.from_numpy(images[chosen].copy()), torch.from_numpy(labels[chosen].copy())

    return DigitSplits(train=take("train"), val=take("val"), test=take("test"), indices=indices)


def check_digit_images(images: object, layout: str = "(N, 8, 8)") -> torch.Tensor:
    """Return `images` if it is a float tensor (N, 8, 8) of digit scans, else raise naming it."""
    return require_shape("images", images, (None, _SIDE, _SIDE), layout)


def as_row_tokens(images: torch.Tensor) -> torch.Tensor:
    """Images (N, 8, 8) -> row tokens (N, 8 tokens, 8 features): token i is pixel row i."""
    return check_digit_images(images).clone()


def as_pixel_vectors(images: torch.Tensor) -> torch.Tensor:
    """Images (N, 8, 8) -> flat pixel vectors (N, 64), row after row."""
    return check_digit_images(images).reshape(len(images), _SIDE * _SIDE)
