"""Is a refactor bit-identical? Save short seeded runs before and after, then compare them.

The command-line checks in tools/ (`train_steps_equivalence`, `block_equivalence`,
`mtl_equivalence`) each define `runs() -> {name: result}` and hand it to :func:`main`:

    python tools/NAME.py save before.pt     # on the old code
    python tools/NAME.py save after.pt      # on the new code, same machine
    python tools/NAME.py compare before.pt after.pt

When every run is identical, the refactor does not change what a committed result computed,
and its JSON may be restamped with the new code fingerprint instead of being re-run.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = ["equal", "main"]


def equal(a: object, b: object) -> bool:
    """Exact equality of nested results: tensors by torch.equal, dicts, lists and tuples item by
    item, floats by == (two NaNs are equal), anything else by ==."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and torch.equal(a, b)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[key], b[key]) for key in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def main(argv: list[str], runs: Callable[[], dict], usage: str) -> int:
    """`save PATH` writes runs() there; `compare BEFORE AFTER` prints each run's verdict and
    returns 1 if any differs (or a run is missing), else 0; anything else prints usage, 2."""
    if len(argv) == 2 and argv[0] == "save":
        torch.save(runs(), argv[1])
        return 0
    if len(argv) == 3 and argv[0] == "compare":
        before, after = (torch.load(path, weights_only=False) for path in argv[1:])
        differ = [
            name for name in before if name not in after or not equal(before[name], after[name])
        ]
        for name in before:
            print(f"{name!s:<24} {'differs' if name in differ else 'identical'}")
        return 1 if differ or before.keys() != after.keys() else 0
    print(usage)
    return 2
