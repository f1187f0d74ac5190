"""Bad input to the core modules raises a clear error that names what was wrong.

| function | bad input tried | expected |
|---|---|---|
| scaled_dot_product_attention | d_k mismatch; n_k vs n_v mismatch; batch dims that do not broadcast | ValueError naming shapes |
| scaled_dot_product_attention | integer tensors; mixed dtypes; non-tensor | TypeError naming dtype/type |
| scaled_dot_product_attention | mask of wrong shape; non-bool mask | ValueError / TypeError |
| scaled_dot_product_attention | NaN or inf in q/k/v; empty sequence; 1-D tensors | ValueError |
| scaled_dot_product_attention | temperature <= 0 or inf; scale <= 0 | ValueError |
| dot_score / general_score / additive_score | d mismatch; weight of wrong shape | ValueError |
| masked_softmax | int scores; wrong-shape mask | TypeError / ValueError |
| causal_mask / window_mask | zero or negative sizes; float sizes | ValueError / TypeError |
| MultiHeadAttention | d_model not divisible by heads; wrong input width; 2-D input | ValueError |
| attention_entropy / effective_span | rows not summing to 1; negative; NaN; empty | ValueError |
| receptive_field | zero layers; zero window | ValueError |
| seed_everything | negative seed; float seed | ValueError |
| fit | mismatched inputs/targets; empty data; epochs 0 | ValueError |
| accuracy | logits/targets disagree | ValueError |
| heatmap / curves | 3-D matrix; wrong tick count; no series | ValueError |
"""

from __future__ import annotations

import math

import pytest
import torch

from attnbook.attention import (
    MultiHeadAttention,
    additive_score,
    causal_mask,
    dot_score,
    general_score,
    masked_softmax,
    scaled_dot_product_attention,
    window_mask,
)
from attnbook.measures import attention_entropy, effective_span, receptive_field
from attnbook.plot import curves, heatmap
from attnbook.train import accuracy, fit, seed_everything

q = torch.randn(2, 3, 4)
k = torch.randn(2, 5, 4)
v = torch.randn(2, 5, 6)
nan_q = q.clone()
nan_q[0, 0, 0] = math.nan
inf_v = v.clone()
inf_v[1, 2, 3] = math.inf
tiny_model = torch.nn.Linear(3, 2)

CASES = [
    # (id, callable, args, kwargs, exception, fragment of the message)
    (
        "d_k mismatch",
        scaled_dot_product_attention,
        (q, torch.randn(2, 5, 3), v),
        {},
        ValueError,
        "(2, 5, 3)",
    ),
    (
        "n_k vs n_v",
        scaled_dot_product_attention,
        (q, k, torch.randn(2, 4, 6)),
        {},
        ValueError,
        "n_k",
    ),
    (
        "batch dims",
        scaled_dot_product_attention,
        (q, torch.randn(3, 5, 4), torch.randn(3, 5, 6)),
        {},
        ValueError,
        "broadcast",
    ),
    (
        "int tensors",
        scaled_dot_product_attention,
        (q.long(), k.long(), v.long()),
        {},
        TypeError,
        "torch.int64",
    ),
    ("mixed dtypes", scaled_dot_product_attention, (q, k.double(), v), {}, TypeError, "float64"),
    ("non tensor", scaled_dot_product_attention, ([[1.0]], k, v), {}, TypeError, "list"),
    (
        "mask shape",
        scaled_dot_product_attention,
        (q, k, v, torch.ones(3, 4, dtype=torch.bool)),
        {},
        ValueError,
        "(3, 4)",
    ),
    (
        "mask dtype",
        scaled_dot_product_attention,
        (q, k, v, torch.ones(3, 5)),
        {},
        TypeError,
        "bool",
    ),
    ("NaN in q", scaled_dot_product_attention, (nan_q, k, v), {}, ValueError, "NaN"),
    ("inf in v", scaled_dot_product_attention, (q, k, inf_v), {}, ValueError, "v contains"),
    (
        "empty keys",
        scaled_dot_product_attention,
        (q, torch.randn(2, 0, 4), torch.randn(2, 0, 6)),
        {},
        ValueError,
        "empty",
    ),
    (
        "1-D query",
        scaled_dot_product_attention,
        (torch.randn(4), k, v),
        {},
        ValueError,
        "at least 2",
    ),
    (
        "temperature 0",
        scaled_dot_product_attention,
        (q, k, v),
        {"temperature": 0.0},
        ValueError,
        "temperature",
    ),
    (
        "temperature inf",
        scaled_dot_product_attention,
        (q, k, v),
        {"temperature": math.inf},
        ValueError,
        "temperature",
    ),
    (
        "scale negative",
        scaled_dot_product_attention,
        (q, k, v),
        {"scale": -1.0},
        ValueError,
        "scale",
    ),
    ("dot d mismatch", dot_score, (q, torch.randn(2, 5, 7)), {}, ValueError, "d_k"),
    ("general weight", general_score, (q, k, torch.randn(3, 4)), {}, ValueError, "(d_q, d_k)"),
    (
        "additive weight",
        additive_score,
        (q, k, torch.randn(4, 8), torch.randn(4, 7), torch.randn(8)),
        {},
        ValueError,
        "w_key",
    ),
    ("softmax int", masked_softmax, (torch.ones(2, 2, dtype=torch.int32),), {}, TypeError, "int32"),
    (
        "softmax mask",
        masked_softmax,
        (torch.ones(2, 3), torch.ones(2, 2, dtype=torch.bool)),
        {},
        ValueError,
        "(2, 2)",
    ),
    ("causal zero", causal_mask, (0,), {}, ValueError, "n_q"),
    ("causal float", causal_mask, (2.5,), {}, TypeError, "n_q"),
    ("window zero", window_mask, (4, 0), {}, ValueError, "window"),
    ("mha divisible", MultiHeadAttention, (10, 3), {}, ValueError, "divisible"),
    ("mha width", MultiHeadAttention(8, 2), (torch.randn(2, 3, 6),), {}, ValueError, "d_model=8"),
    ("mha 2-D", MultiHeadAttention(8, 2), (torch.randn(3, 8),), {}, ValueError, "(3, 8)"),
    ("entropy sum", attention_entropy, (torch.tensor([0.5, 0.6]),), {}, ValueError, "sum to 1"),
    (
        "entropy negative",
        attention_entropy,
        (torch.tensor([1.5, -0.5]),),
        {},
        ValueError,
        "non-negative",
    ),
    ("entropy NaN", effective_span, (torch.tensor([math.nan, 1.0]),), {}, ValueError, "finite"),
    ("entropy empty", attention_entropy, (torch.ones(3, 0),), {}, ValueError, "non-empty"),
    ("field layers", receptive_field, (0, 3), {}, ValueError, "num_layers"),
    ("field window", receptive_field, (2, 0), {}, ValueError, "window"),
    ("seed negative", seed_everything, (-1,), {}, ValueError, "seed"),
    ("seed float", seed_everything, (1.5,), {}, ValueError, "seed"),
    (
        "fit mismatch",
        fit,
        (tiny_model, (torch.randn(4, 3), torch.zeros(5, dtype=torch.long))),
        {"epochs": 1},
        ValueError,
        "(4, 3)",
    ),
    (
        "fit empty",
        fit,
        (tiny_model, (torch.randn(0, 3), torch.zeros(0, dtype=torch.long))),
        {"epochs": 1},
        ValueError,
        "non-empty",
    ),
    (
        "fit epochs",
        fit,
        (tiny_model, (torch.randn(4, 3), torch.zeros(4, dtype=torch.long))),
        {"epochs": 0},
        ValueError,
        "epochs",
    ),
    ("accuracy shapes", accuracy, (torch.randn(4, 3), torch.zeros(5)), {}, ValueError, "(4, 3)"),
    (
        "heatmap 3-D",
        heatmap,
        (torch.zeros(2, 2, 2),),
        {"xlabel": "x", "ylabel": "y"},
        ValueError,
        "2-D",
    ),
    (
        "heatmap ticks",
        heatmap,
        (torch.zeros(2, 3),),
        {"xlabel": "x", "ylabel": "y", "x_ticks": ["a"]},
        ValueError,
        "tick",
    ),
    ("curves empty", curves, ({},), {"xlabel": "x", "ylabel": "y"}, ValueError, "at least one"),
]


@pytest.mark.parametrize(
    ("function", "args", "kwargs", "error", "fragment"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_raises_clear_error(function, args, kwargs, error, fragment):
    with pytest.raises(error) as caught:
        function(*args, **kwargs)
    assert fragment in str(caught.value), f"message {str(caught.value)!r} lacks {fragment!r}"
