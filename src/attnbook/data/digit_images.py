"""scikit-learn's bundled 8×8 digits as image tensors, with a seeded stratified train/test split."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

__all__ = ["load_digit_images"]


def load_digit_images(
    test_fraction: float = 0.3, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Train/test images (N, 8, 8) float32 in [0, 1] and labels (N,) int64, split by class.

    The split is stratified by digit and fixed by `seed`; nothing is downloaded
    (the 1797 images ship with scikit-learn).
    """
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)):
        raise TypeError(f"test_fraction must be a number, got {type(test_fraction).__name__}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    digits = load_digits()
    images = torch.tensor(digits.images / 16.0, dtype=torch.float32)
    labels = torch.tensor(digits.target, dtype=torch.int64)
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)), test_size=test_fraction, stratify=digits.target, random_state=seed
    )
    train_idx, test_idx = torch.as_tensor(train_idx), torch.as_tensor(test_idx)
    return images[train_idx], labels[train_idx], images[test_idx], labels[test_idx]
