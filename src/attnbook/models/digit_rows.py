"""Digit classifiers for chapter 6: attention over the 8 pixel rows of a digit, and an MLP baseline.

``DigitRowAttention`` is the corrected version of the article's model. Each image (8, 8) is a
sequence of 8 row tokens; attention runs *inside* one image (a row attends to the other rows of
the same digit, never to other images of the batch), scores are scaled by 1/√d_head, and a
linear head emits one unconstrained logit per class for cross-entropy.

``DigitMLP`` is the non-attention baseline: the 64 pixels flattened into a one-hidden-layer MLP,
sized by ``mlp_hidden_for_budget`` to have about as many parameters as the attention model.
"""

from __future__ import annotations

import torch
from torch import nn

from attnbook.checks import require_divisible, require_finite, require_positive_int
from attnbook.data.digits import check_digit_images
from attnbook.models.transformer import TransformerBlock
from attnbook.train import count_parameters

__all__ = [
    "DigitMLP",
    "DigitRowAttention",
    "count_parameters",
    "mlp_hidden_for_budget",
]

_ROWS = 8
_ROW_FEATURES = 8


def _check_images(images: object) -> torch.Tensor:
    """images (batch, 8, 8) checked: float, that shape, finite."""
    tensor = check_digit_images(images, "(batch, 8 rows, 8 pixels)")
    require_finite("images", tensor)
    return tensor


class DigitRowAttention(nn.Module):
    """Images (B, 8, 8) -> logits (B, num_classes): one pre-norm attention block over the 8 row tokens."""

    def __init__(
        self,
        d_model: int = 32,
        num_heads: int = 2,
        num_classes: int = 10,
        mlp_ratio: int = 2,
    ) -> None:
        super().__init__()
        for name, value in (
            ("d_model", d_model),
            ("num_heads", num_heads),
            ("num_classes", num_classes),
            ("mlp_ratio", mlp_ratio),
        ):
            require_positive_int(name, value)
        require_divisible("d_model", d_model, "num_heads", num_heads)
        self.num_heads = num_heads
        self.row_embed = nn.Linear(_ROW_FEATURES, d_model)
        self.position = nn.Parameter(0.1 * torch.randn(_ROWS, d_model))
        # chapter 5b's pre-norm block: attention and a GELU MLP, each around a residual
        self.block = TransformerBlock(d_model, num_heads, mlp_ratio * d_model)
        self.out_norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def _row_tokens(self, images: torch.Tensor) -> torch.Tensor:
        """Row tokens (B, 8, d_model): each row's pixels embedded, plus its position."""
        return self.row_embed(_check_images(images)) + self.position

    def queries_and_keys(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-head queries and keys (B, heads, 8, d_head) that the attention scores compare."""
        return self.block.queries_and_keys(self.block.norm1(self._row_tokens(images)))

    def attention_weights(self, images: torch.Tensor) -> torch.Tensor:
        """Attention weights (B, heads, 8 query rows, 8 key rows) inside each image."""
        self.block.attend(self.block.norm1(self._row_tokens(images)))  # the attention only
        return self.block.last_weights

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_classes) for images (B, 8, 8); no activation, ready for cross-entropy."""
        tokens = self.block(self._row_tokens(images))
        return self.head(self.out_norm(tokens).mean(dim=1))


def mlp_hidden_for_budget(num_params: int, num_inputs: int = 64, num_classes: int = 10) -> int:
    """Hidden width h of a one-hidden-layer MLP (num_inputs -> h -> num_classes) with about num_params parameters."""
    require_positive_int("num_params", num_params)
    require_positive_int("num_inputs", num_inputs)
    require_positive_int("num_classes", num_classes)
    per_unit = num_inputs + 1 + num_classes  # weights in, bias, weights out
    hidden = round((num_params - num_classes) / per_unit)
    if hidden < 1:
        raise ValueError(
            f"num_params={num_params} is too small for even one hidden unit "
            f"({per_unit + num_classes} parameters)"
        )
    return hidden


class DigitMLP(nn.Module):
    """Non-attention baseline: images (B, 8, 8) -> flatten (B, 64) -> hidden -> logits (B, num_classes)."""

    def __init__(self, hidden: int = 128, num_classes: int = 10) -> None:
        super().__init__()
        require_positive_int("hidden", hidden)
        require_positive_int("num_classes", num_classes)
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(_ROWS * _ROW_FEATURES, hidden),
            nn.GELU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_classes) for images (B, 8, 8)."""
        return self.net(_check_images(images))
