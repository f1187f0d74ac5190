"""Every seed the book uses, shifted by one switch: the environment variable ATTNBOOK_SEED_OFFSET.

A claim in the book must hold for any seed, not for the one run that made the committed outputs.
`make test` re-runs every notebook with a non-zero offset; every torch and NumPy random source
that the package or a notebook makes from a seed goes through the helpers here, so one variable
moves the generated data, the initialisation and the batch order together.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence

import numpy as np
import torch

__all__ = [
    "SEED_OFFSET_VARIABLE",
    "manual_seed",
    "numpy_rng",
    "seed_everything",
    "seed_offset",
    "shifted",
    "torch_generator",
]

SEED_OFFSET_VARIABLE = "ATTNBOOK_SEED_OFFSET"


def _require_seed(seed: object) -> int:
    """The seed as an int; ValueError unless it is a non-negative int (bool is refused)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)


def seed_offset() -> int:
    """The offset added to every seed: int(ATTNBOOK_SEED_OFFSET), 0 when it is unset or empty."""
    text = os.environ.get(SEED_OFFSET_VARIABLE, "").strip()
    if not text:
        return 0
    try:
        offset = int(text)
    except ValueError:
        raise ValueError(
            f"{SEED_OFFSET_VARIABLE} must be a non-negative integer, got {text!r}"
        ) from None
    if offset < 0:
        raise ValueError(f"{SEED_OFFSET_VARIABLE} must be a non-negative integer, got {offset}")
    return offset


def shifted(seed: int) -> int:
    """seed + the offset: the seed that is actually used."""
    return _require_seed(seed) + seed_offset()


def torch_generator(seed: int, device: torch.device | str | None = None) -> torch.Generator:
    """A torch.Generator on device (CPU by default) seeded with shifted(seed)."""
    generator = torch.Generator() if device is None else torch.Generator(device=device)
    return generator.manual_seed(shifted(seed))


def numpy_rng(seed: int | Sequence[int]) -> np.random.Generator:
    """A NumPy Generator from a seed or a seed sequence; the first entry is shifted."""
    if isinstance(seed, Sequence) and not isinstance(seed, str):
        if len(seed) == 0:
            raise ValueError("seed sequence must not be empty")
        entries = [_require_seed(entry) for entry in seed]
        return np.random.default_rng([shifted(entries[0]), *entries[1:]])
    return np.random.default_rng(shifted(_require_seed(seed)))


def manual_seed(seed: int) -> None:
    """Seed torch's global generator with shifted(seed) (for module initialisation)."""
    torch.manual_seed(shifted(seed))


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch with shifted(seed), make torch deterministic; return a Generator."""
    actual = shifted(seed)
    os.environ["PYTHONHASHSEED"] = str(actual)
    random.seed(actual)
    np.random.seed(actual)
    torch.manual_seed(actual)
    torch.use_deterministic_algorithms(True)
    return torch.Generator().manual_seed(actual)
