"""Two tasks on one generated input (chapter 2.3): a row of red and blue numbered items.

Task 0 asks whether the red numbers sum to more than zero, task 1 the same for the blue ones,
so each task needs a different subset of the same items.
"""

from __future__ import annotations

import torch

from attnbook.checks import require_positive_int
from attnbook.seeding import torch_generator

__all__ = ["make_colour_sums"]


def make_colour_sums(
    n: int, length: int = 10, *, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Items (n, length, 3) = [is_red, is_blue, number] and labels (n, 2): [red sum > 0, blue sum > 0].

    Every row holds at least one red and one blue item; numbers are N(0, 1).
    """
    require_positive_int("n", n)
    require_positive_int("length", length)
    if length < 2:
        raise ValueError(f"length must be >= 2 so a row can hold both colours, got {length}")
    generator = torch_generator(seed)
    red = torch.rand(n, length, generator=generator) < 0.5
    red[:, 0] = True
    red[:, 1] = False
    shuffle = torch.argsort(torch.rand(n, length, generator=generator), dim=1)
    red = torch.gather(red, 1, shuffle)
    numbers = torch.randn(n, length, generator=generator)
    items = torch.stack([red.float(), (~red).float(), numbers], dim=-1)
    labels = torch.stack(
        [(numbers * red).sum(dim=1) > 0, (numbers * ~red).sum(dim=1) > 0], dim=1
    ).long()
    return items, labels
