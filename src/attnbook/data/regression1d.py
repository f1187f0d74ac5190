"""Generated 1-D regression data for kernel regression (chapter 1): a smooth curve plus noise."""

from __future__ import annotations

import torch

from attnbook.checks import require_float_tensor, require_positive, require_positive_int
from attnbook.seeding import torch_generator

__all__ = ["make_regression_1d", "wavy_curve"]


def wavy_curve(x: torch.Tensor) -> torch.Tensor:
    """The noise-free target f(x) = sin(2x) + 0.4·x, elementwise: x (...) -> (...)."""
    require_float_tensor("x", x)
    return torch.sin(2.0 * x) + 0.4 * x


def make_regression_1d(
    n: int,
    *,
    noise: float = 0.4,
    low: float = 0.0,
    high: float = 5.0,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """n sorted inputs x ~ U(low, high) and noisy targets y = wavy_curve(x) + N(0, noise²): (n,), (n,)."""
    require_positive_int("n", n)
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or noise < 0:
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")
    require_positive("high - low", float(high) - float(low))
    generator = torch_generator(seed)
    x, _ = torch.sort(low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64))
    y = wavy_curve(x) + noise * torch.randn(n, generator=generator, dtype=torch.float64)
    return x, y
