"""Canvases of three handwritten digits side by side (8 × 24 pixels), from scikit-learn's `load_digits`.

Each canvas holds three *different* digit classes in three slots (left, middle, right), each an
8×8 scan placed without overlap, so every 4×4 patch belongs to exactly one digit. The 1797 scans
are split per class into disjoint train and test pools (70 % / 30 %, fixed by ``seed``): a test
canvas never reuses a scan seen in training.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from attnbook.checks import require_positive_int
from attnbook.seeding import numpy_rng

__all__ = ["SLOTS", "make_digit_canvases"]

SLOTS: tuple[str, ...] = ("left", "middle", "right")


@lru_cache(maxsize=1)
def _scans() -> tuple[np.ndarray, np.ndarray]:
    """The bundled scans (1797, 8, 8) float32 in [0, 1] and labels (1797,) int64."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.images / 16.0).astype(np.float32), digits.target.astype(np.int64)


def _pool(split: str, seed: int) -> np.ndarray:
    """Indices of the scans in one split's pool."""
    _, labels = _scans()
    rng = numpy_rng([seed, 70])
    parts = []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        cut = round(0.7 * len(members))
        parts.append(members[:cut] if split == "train" else members[cut:])
    return np.sort(np.concatenate(parts))


def make_digit_canvases(split: str, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Canvases (n, 8, 24) float32 in [0, 1] and slot labels (n, 3) int64 (three distinct digits)."""
    if not isinstance(split, str) or split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    require_positive_int("n", n)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    images, labels = _scans()
    pool = _pool(split, seed)
    by_class = [pool[labels[pool] == d] for d in range(10)]
    rng = numpy_rng([seed, 1 if split == "train" else 2, n])
    classes = np.stack([rng.permutation(10)[:3] for _ in range(n)])
    canvases = np.zeros((n, 8, 24), dtype=np.float32)
    for i, row in enumerate(classes):
        for slot, digit in enumerate(row):
            canvases[i, :, 8 * slot : 8 * slot + 8] = images[rng.choice(by_class[digit])]
    return torch.from_numpy(canvases), torch.from_numpy(classes.astype(np.int64))
