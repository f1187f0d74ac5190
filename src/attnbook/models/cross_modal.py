"""A tiny text-to-image reader: the words of a query attend over the patches of an image.

Image side: an (H, W) canvas is cut into non-overlapping p×p patches; each is flattened, given a
learned position embedding and passed through a small MLP (so what a patch contributes can
depend on where it is), then one self-attention block lets the patches exchange information
(a patch learns which digit it is part of). Text side: word embeddings plus learned positions.
Cross-attention: every word is a query, every patch a key and a value. The answer is read from
the mean over words of (word + what the word retrieved from the image).
"""

from __future__ import annotations

import torch
from torch import nn

from attnbook.attention import MultiHeadAttention
from attnbook.checks import require_float_tensor, require_positive_int, require_token_ids

__all__ = ["CrossModalReader", "column_windows", "pack_inputs"]


def column_windows(images: torch.Tensor, width: int, stride: int) -> torch.Tensor:
    """Full-height windows of images (B, H, W): (B, n, H·width), n = (W − width)/stride + 1, left to right."""
    require_float_tensor("images", images)
    require_positive_int("width", width)
    require_positive_int("stride", stride)
    if images.dim() != 3:
        raise ValueError(f"images must have shape (B, H, W), got {tuple(images.shape)}")
    batch, height, total = images.shape
    if width > total or (total - width) % stride:
        raise ValueError(
            f"windows of width {width} and stride {stride} do not tile an image {total} wide"
        )
    windows = images.unfold(2, width, stride)  # (B, H, n, width)
    return windows.permute(0, 2, 1, 3).reshape(batch, -1, height * width)


def pack_inputs(images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """One float tensor (B, H·W + L) from images (B, H, W) and token ids (B, L), for `train.fit`."""
    require_float_tensor("images", images)
    if images.dim() != 3:
        raise ValueError(f"images must have shape (B, H, W), got {tuple(images.shape)}")
    if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.int64 or tokens.dim() != 2:
        raise TypeError("tokens must be a 2-D int64 tensor (B, L)")
    if tokens.shape[0] != images.shape[0]:
        raise ValueError(
            f"images {tuple(images.shape)} and tokens {tuple(tokens.shape)} must share the "
            "batch size"
        )
    return torch.cat([images.flatten(1), tokens.to(images.dtype)], dim=1)


class CrossModalReader(nn.Module):
    """Answer a text query about an image: images (B, H, W), tokens (B, L) -> logits (B, n_answers)."""

    def __init__(
        self,
        vocab_size: int,
        n_answers: int,
        *,
        image_shape: tuple[int, int] = (8, 24),
        window: int = 8,
        stride: int = 2,
        max_length: int = 6,
        d_model: int = 32,
        num_heads: int = 2,
        per_word: bool = False,
    ) -> None:
        super().__init__()
        for name, value in (
            ("vocab_size", vocab_size),
            ("n_answers", n_answers),
            ("window", window),
            ("stride", stride),
            ("max_length", max_length),
            ("d_model", d_model),
            ("num_heads", num_heads),
        ):
            require_positive_int(name, value)
        height, width = image_shape
        if window > width or (width - window) % stride:
            raise ValueError(
                f"windows of width {window} and stride {stride} do not tile image_shape {image_shape}"
            )
        self.image_shape, self.window, self.stride = (height, width), window, stride
        self.max_length, self.per_word = max_length, per_word
        self.n_patches = (width - window) // stride + 1
        self.patch_embed = nn.Linear(height * window, d_model)
        self.patch_pos = nn.Parameter(0.1 * torch.randn(self.n_patches, d_model))
        self.patch_mlp = nn.Sequential(nn.GELU(), nn.Linear(d_model, d_model))
        self.word_embed = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.word_pos = nn.Parameter(0.1 * torch.randn(max_length, d_model))
        self.cross_attn = MultiHeadAttention(d_model, num_heads)
        self.head = nn.Sequential(
            nn.LayerNorm(d_model),
            nn.Linear(d_model, 2 * d_model),
            nn.GELU(),
            nn.Linear(2 * d_model, n_answers),
        )

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Patch states (B, n_patches, d_model) of images (B, H, W)."""
        windows = column_windows(images, self.window, self.stride)
        return self.patch_mlp(self.patch_embed(windows) + self.patch_pos)

    def answer(
        self, images: torch.Tensor, tokens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, n_answers) and cross-attention weights (B, heads, n_queries, n_patches).

        n_queries is L (every word a query) when per_word, else 1 (the mean of the words).
        """
        require_float_tensor("images", images)
        if images.dim() != 3 or tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(
                f"images must have shape (B, {self.image_shape[0]}, {self.image_shape[1]}), "
                f"got {tuple(images.shape)}"
            )
        vocab_size = self.word_embed.num_embeddings
        require_token_ids("tokens", tokens, vocab_size, max_length=self.max_length)
        if tokens.shape[0] != images.shape[0]:
            raise ValueError(
                f"tokens {tuple(tokens.shape)} must have the batch of images, {images.shape[0]}"
            )
        patches = self.encode_image(images)
        words = self.word_embed(tokens) + self.word_pos[: tokens.shape[1]]
        present = (tokens != 0).unsqueeze(-1).to(words.dtype)
        if not self.per_word:
            words = (words * present).sum(1, keepdim=True) / present.sum(1, keepdim=True).clamp_min(
                1
            )
            present = torch.ones_like(present[:, :1])
        retrieved, weights = self.cross_attn(words, patches, patches)
        pooled = ((words + retrieved) * present).sum(1) / present.sum(1).clamp_min(1.0)
        return self.head(pooled), weights

    def forward(self, packed: torch.Tensor) -> torch.Tensor:
        """Logits (B, n_answers) from packed inputs (B, H·W + L) made by `pack_inputs`."""
        require_float_tensor("packed", packed)
        pixels = self.image_shape[0] * self.image_shape[1]
        if packed.dim() != 2 or not pixels < packed.shape[1] <= pixels + self.max_length:
            raise ValueError(
                f"packed must have shape (B, {pixels} + L) with 1 <= L <= {self.max_length}, "
                f"got {tuple(packed.shape)}"
            )
        images = packed[:, :pixels].reshape(-1, *self.image_shape)
        tokens = packed[:, pixels:].round().long()
        return self.answer(images, tokens)[0]
