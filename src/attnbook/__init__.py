"""attnbook: the attention code that every chapter of *Attention in Depth and Breadth* imports."""

from attnbook.attention import (
    MultiHeadAttention,
    additive_score,
    causal_mask,
    dot_score,
    general_score,
    masked_softmax,
    scaled_dot_product_attention,
    scaled_dot_score,
)

__all__ = [
    "MultiHeadAttention",
    "additive_score",
    "causal_mask",
    "dot_score",
    "general_score",
    "masked_softmax",
    "scaled_dot_product_attention",
    "scaled_dot_score",
]
__version__ = "0.1.0"
