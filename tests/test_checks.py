"""The input-check helpers every public function relies on: they pass good input, name bad input.

| helper | bad input tried | expected |
|---|---|---|
| require_float_tensor | a list; an int64 tensor | TypeError naming the type / dtype |
| require_min_dims | a 1-D tensor where 2 dims are needed | ValueError naming the shape |
| require_finite | NaN; -inf | ValueError naming the shape |
| require_positive | 0; -1; inf; NaN; a string; True | ValueError / TypeError naming the value |
| require_positive_int | 0; 2.0; True | ValueError / TypeError |
| check_mask | float mask; mask not broadcastable; a list | TypeError / ValueError naming shapes |
"""

from __future__ import annotations

import math

import pytest
import torch

from attnbook.attention import check_mask
from attnbook.checks import (
    require_finite,
    require_float_tensor,
    require_min_dims,
    require_positive,
    require_positive_int,
    require_token_ids,
)


def test_good_input_passes_through():
    x = torch.ones(2, 3)
    assert require_float_tensor("x", x) is x
    require_min_dims("x", x, 2, "(n, d)")
    require_finite("x", x)
    assert require_positive("t", 2) == 2.0
    assert require_positive_int("n", 3) == 3
    check_mask(None, torch.Size([2, 3]))
    check_mask(torch.ones(3, dtype=torch.bool), torch.Size([4, 2, 3]))


BAD = [
    ("list", require_float_tensor, ("x", [1.0]), TypeError, "list"),
    (
        "int tensor",
        require_float_tensor,
        ("x", torch.ones(2, dtype=torch.int64)),
        TypeError,
        "int64",
    ),
    ("too few dims", require_min_dims, ("x", torch.ones(3), 2, "(n, d)"), ValueError, "(3,)"),
    ("nan", require_finite, ("x", torch.tensor([1.0, math.nan])), ValueError, "NaN"),
    ("-inf", require_finite, ("x", torch.tensor([-math.inf])), ValueError, "(1,)"),
    ("zero", require_positive, ("t", 0), ValueError, "got 0"),
    ("negative", require_positive, ("t", -1.0), ValueError, "-1.0"),
    ("inf", require_positive, ("t", math.inf), ValueError, "inf"),
    ("nan value", require_positive, ("t", math.nan), ValueError, "nan"),
    ("string", require_positive, ("t", "1"), TypeError, "str"),
    ("bool", require_positive, ("t", True), TypeError, "bool"),
    ("int zero", require_positive_int, ("n", 0), ValueError, "got 0"),
    ("float int", require_positive_int, ("n", 2.0), TypeError, "float"),
    ("bool int", require_positive_int, ("n", True), TypeError, "bool"),
    ("float mask", check_mask, (torch.ones(2, 3), torch.Size([2, 3])), TypeError, "float32"),
    (
        "mask shape",
        check_mask,
        (torch.ones(4, 3, dtype=torch.bool), torch.Size([2, 3])),
        ValueError,
        "(4, 3)",
    ),
    ("mask list", check_mask, ([[True]], torch.Size([1, 1])), TypeError, "list"),
]


@pytest.mark.parametrize(
    ("helper", "args", "error", "fragment"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_input_is_named(helper, args, error, fragment):
    with pytest.raises(error) as caught:
        helper(*args)
    assert fragment in str(caught.value), str(caught.value)


def test_require_finite_is_not_fooled_by_its_sum():
    """The fast path sums the tensor: a sum that overflows is not an error, inf - inf still is."""
    huge = torch.full((4,), 3e38)  # finite elements whose float32 sum overflows to inf
    require_finite("huge", huge)
    require_finite("half", torch.full((8,), 6e4, dtype=torch.float16))
    with pytest.raises(ValueError, match="NaN or inf"):
        require_finite("x", torch.tensor([math.inf, -math.inf, 1.0]))
    require_finite("empty", torch.empty(0, 3))


@pytest.mark.parametrize(
    ("tokens", "kwargs", "error", "fragment"),
    [
        ([[1, 2]], {}, TypeError, r"2-D int64 tensor \(batch, length\) of token ids, got list"),
        (torch.zeros(2, 3), {}, TypeError, "got dtype torch.float32"),
        (torch.zeros(3, dtype=torch.long), {}, ValueError, r"got shape \(3,\)"),
        (torch.zeros(2, 0, dtype=torch.long), {}, ValueError, "at least 1 position"),
        (torch.zeros(2, 5, dtype=torch.long), {"max_length": 4}, ValueError, r"1\.\.4 positions"),
        (torch.full((2, 3), 7), {"vocab_size": 7}, ValueError, r"0\.\.6, got range \[7, 7\]"),
        (torch.full((2, 3), -1), {}, ValueError, r"must be >= 0, got range \[-1, -1\]"),
        (
            torch.zeros(2, 3, dtype=torch.long),
            {"dims": 1},
            ValueError,
            r"1-D int64 tensor \(length,\)",
        ),
    ],
)
def test_token_ids_are_checked_with_a_named_reason(tokens, kwargs, error, fragment) -> None:
    vocab_size = kwargs.pop("vocab_size", None)
    with pytest.raises(error, match=fragment):
        require_token_ids("tokens", tokens, vocab_size, **kwargs)


def test_good_token_ids_come_back_unchanged() -> None:
    tokens = torch.tensor([[0, 6, 3]])
    assert require_token_ids("tokens", tokens, 7, max_length=3) is tokens
    assert require_token_ids("ids", torch.tensor([2, 0]), 3, dims=1).tolist() == [2, 0]
