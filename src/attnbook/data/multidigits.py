"""MultiDigits: two handwritten digits on one canvas, a small MultiMNIST built from `load_digits`.

MultiMNIST (Sabour, Frosst & Hinton, 2017; adapted to multi-task learning by Sener & Koltun,
2018) puts two MNIST digits on one canvas, one towards the top left
and one towards the bottom right, shifted at random so that they overlap; the two tasks are to
name the left digit and the right digit. Here the digits are scikit-learn's bundled 8x8 scans
(1797 real handwritten digits, no download), so every canvas is tiny and training is cheap.

API (stable; other chapters import it)::

    images, left, right = make_multidigits("train", seed=0)
    # images: (N, 1, H, W) float32 in [0, 1]; left, right: (N,) int64 class labels 0..9

* ``split`` is ``"train"``, ``"val"`` or ``"test"``; ``n`` overrides the default split size
  (``DEFAULT_SIZES``); ``canvas`` is the side H = W of the square canvas (>= 10).
* The 1797 source scans are first partitioned, per class and from ``seed``, into disjoint
  pools (60 % train, 20 % val, 20 % test): a test or validation canvas never reuses a scan
  seen in training. ``source_pools(seed)`` returns the pools; ``return_sources=True`` also
  returns the (N, 2) indices of the left and right scans into ``load_digits``.
* Left and right labels are each exactly balanced over the 10 classes (up to N mod 10),
  drawn independently, so the two labels are uncorrelated; the two scans always differ.
* The left digit's top-left corner is at row 0..2, column 0..1; the right digit's at row
  ``canvas - 10 .. canvas - 8``, column ``canvas - 9 .. canvas - 8``; the canvas is the
  pixel-wise maximum of the two, so on the default 12x12 canvas the digits overlap.
* ``left_only=True`` leaves the right digit out (same draws: each canvas holds exactly the left
  digit of its two-digit twin, at the same place), for a one-digit reference task.
* ``load_digits`` has no writer ids (its 1797 scans come from 13 writers), so the pools are
  disjoint in scans, not in writers.
* Everything is deterministic given ``(split, seed, n, canvas)``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from attnbook.checks import require_positive_int
from attnbook.seeding import numpy_rng

__all__ = [
    "DEFAULT_SIZES",
    "SPLITS",
    "digit_sources",
    "make_multidigits",
    "source_pools",
]

SPLITS: tuple[str, ...] = ("train", "val", "test")
DEFAULT_SIZES: dict[str, int] = {"train": 4000, "val": 1000, "test": 1000}
_POOL_FRACTIONS = (0.6, 0.2, 0.2)
_DIGIT = 8  # side of one load_digits scan


@lru_cache(maxsize=1)
def digit_sources() -> tuple[np.ndarray, np.ndarray]:
    """The bundled scans: images (1797, 8, 8) float32 in [0, 1] and labels (1797,) int64."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    images.setflags(write=False)
    labels = digits.target.astype(np.int64)
    labels.setflags(write=False)
    return images, labels


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return seed


def source_pools(seed: int = 0) -> dict[str, np.ndarray]:
    """Disjoint index pools into `digit_sources()` per split: {'train': (~1078,), 'val', 'test'}."""
    _check_seed(seed)
    _, labels = digit_sources()
    rng = numpy_rng(seed)
    pools: dict[str, list[np.ndarray]] = {split: [] for split in SPLITS}
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        n_train = round(_POOL_FRACTIONS[0] * len(members))
        n_val = round(_POOL_FRACTIONS[1] * len(members))
        pools["train"].append(members[:n_train])
        pools["val"].append(members[n_train : n_train + n_val])
        pools["test"].append(members[n_train + n_val :])
    return {split: np.sort(np.concatenate(parts)) for split, parts in pools.items()}


def make_multidigits(
    split: str,
    seed: int = 0,
    *,
    n: int | None = None,
    canvas: int = 12,
    return_sources: bool = False,
    left_only: bool = False,
) -> (
    tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    | tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
):
    """Canvases (N, 1, canvas, canvas) float32, left labels (N,), right labels (N,) int64.

    With ``return_sources=True`` a fourth tensor (N, 2) int64 holds the indices of the left and
    right scans into ``digit_sources()``. ``left_only=True`` draws only the left digit.
    """
    if not isinstance(split, str) or split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    _check_seed(seed)
    n = DEFAULT_SIZES[split] if n is None else require_positive_int("n", n)
    require_positive_int("canvas", canvas)
    if canvas < _DIGIT + 2:
        raise ValueError(f"canvas must be >= {_DIGIT + 2} pixels, got {canvas}")
    images, labels = digit_sources()
    pool = source_pools(seed)[split]
    by_class = [pool[labels[pool] == digit] for digit in range(10)]
    rng = numpy_rng([seed, SPLITS.index(split), n, canvas])
    left = rng.permutation(np.arange(n) % 10)
    right = rng.permutation(np.arange(n) % 10)
    left_src = np.array([rng.choice(by_class[d]) for d in left])
    right_src = np.empty(n, dtype=np.int64)
    for i, digit in enumerate(right):
        choice = rng.choice(by_class[digit])
        while choice == left_src[i]:
            choice = rng.choice(by_class[digit])
        right_src[i] = choice
    top_l = rng.integers(0, 3, n)
    col_l = rng.integers(0, 2, n)
    top_r = rng.integers(canvas - _DIGIT - 2, canvas - _DIGIT + 1, n)
    col_r = rng.integers(canvas - _DIGIT - 1, canvas - _DIGIT + 1, n)
    out = np.zeros((n, canvas, canvas), dtype=np.float32)
    for i in range(n):
        out[i, top_l[i] : top_l[i] + _DIGIT, col_l[i] : col_l[i] + _DIGIT] = images[left_src[i]]
        if not left_only:
            window = out[i, top_r[i] : top_r[i] + _DIGIT, col_r[i] : col_r[i] + _DIGIT]
            np.maximum(window, images[right_src[i]], out=window)
    result = (
        torch.from_numpy(out).unsqueeze(1),
        torch.from_numpy(left.astype(np.int64)),
        torch.from_numpy(right.astype(np.int64)),
    )
    if return_sources:
        return (*result, torch.from_numpy(np.stack([left_src, right_src], axis=1)))
    return result
