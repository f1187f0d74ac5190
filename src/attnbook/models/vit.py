"""A tiny vision transformer for 8×8 images (patch embedding, class token, positional embeddings).

The same layout as Dosovitskiy et al. (2021), shrunk to fit scikit-learn's 8×8 digits: an image
is cut into non-overlapping square patches, each patch is flattened and projected to d_model, a
learned class token is prepended, learned positional embeddings are added, and a few pre-norm
transformer blocks mix the tokens. The class token's final state is classified.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from attnbook.checks import require_divisible, require_float_tensor, require_positive_int
from attnbook.models.transformer import TransformerBlock
from attnbook.train import count_parameters

__all__ = [
    "DigitCNN",
    "PixelMLP",
    "TinyViT",
    "count_parameters",
    "patchify",
    "training_step_flops",
]


def _as_images(images: torch.Tensor) -> torch.Tensor:
    """Accept (B, H, W) or (B, 1, H, W) float images and return (B, H, W)."""
    require_float_tensor("images", images)
    if images.dim() == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.dim() != 3:
        raise ValueError(
            f"images must have shape (batch, H, W) or (batch, 1, H, W), got {tuple(images.shape)}"
        )
    return images


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images (B, H, W) into row-major patches (B, (H/p)·(W/p), p·p)."""
    images = _as_images(images)
    require_positive_int("patch_size", patch_size)
    batch, height, width = images.shape
    if height % patch_size or width % patch_size:
        raise ValueError(f"image size {height}×{width} is not divisible by patch_size {patch_size}")
    rows, cols = height // patch_size, width // patch_size
    patches = images.reshape(batch, rows, patch_size, cols, patch_size)
    return patches.permute(0, 1, 3, 2, 4).reshape(batch, rows * cols, patch_size * patch_size)


class TinyViT(nn.Module):
    """Vision transformer: images (B, H, W) -> logits (B, num_classes); token 0 is the class token."""

    def __init__(
        self,
        image_size: int = 8,
        patch_size: int = 2,
        num_classes: int = 10,
        d_model: int = 32,
        num_heads: int = 4,
        num_layers: int = 2,
        mlp_dim: int = 64,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        for name, value in (
            ("image_size", image_size),
            ("patch_size", patch_size),
            ("num_classes", num_classes),
            ("num_layers", num_layers),
        ):
            require_positive_int(name, value)
        require_divisible("d_model", d_model, "num_heads", num_heads)
        if image_size % patch_size:
            raise ValueError(f"image_size {image_size} is not divisible by patch_size {patch_size}")
        self.image_size = image_size
        self.patch_size = patch_size
        self.grid = image_size // patch_size
        self.num_patches = self.grid * self.grid
        self.patch_embedding = nn.Linear(patch_size * patch_size, d_model)
        self.class_token = nn.Parameter(torch.zeros(1, 1, d_model))
        # zero start: whatever structure the positional embeddings show was learned from data
        self.position_embedding = nn.Parameter(torch.zeros(1, self.num_patches + 1, d_model))
        # pre-norm blocks, GELU MLP; dropout on hidden units and sublayer outputs, not weights
        self.blocks = nn.ModuleList(
            TransformerBlock(d_model, num_heads, mlp_dim, dropout=dropout, attention_dropout=0.0)
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def forward_with_attention(
        self, images: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits (B, num_classes) and each block's weights (B, heads, 1+P, 1+P), P patches."""
        images = _as_images(images)
        if images.shape[1:] != (self.image_size, self.image_size):
            raise ValueError(
                f"images must be {self.image_size}×{self.image_size}, got {tuple(images.shape)}"
            )
        patches = patchify(images, self.patch_size)
        tokens = self.patch_embedding(patches)
        class_tokens = self.class_token.expand(len(images), -1, -1)
        tokens = torch.cat([class_tokens, tokens], dim=1) + self.position_embedding
        all_weights = []
        for block in self.blocks:
            tokens = block(tokens)
            all_weights.append(block.last_weights)
        return self.head(self.norm(tokens[:, 0])), all_weights

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_classes) for images (B, H, W) or (B, 1, H, W)."""
        return self.forward_with_attention(images)[0]

    def patch_position_embeddings(self) -> torch.Tensor:
        """The learned positional embeddings of the patches only (P, d_model), class token excluded."""
        return self.position_embedding[0, 1:].detach()


class PixelMLP(nn.Module):
    """Baseline multilayer perceptron on raw pixels: images (B, H, W) -> logits (B, num_classes)."""

    def __init__(self, in_features: int = 64, hidden: int = 128, num_classes: int = 10) -> None:
        super().__init__()
        for name, value in (
            ("in_features", in_features),
            ("hidden", hidden),
            ("num_classes", num_classes),
        ):
            require_positive_int(name, value)
        self.in_features = in_features
        self.net = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_classes) for images (B, ...) with in_features values each."""
        require_float_tensor("images", images)
        flat = images.reshape(len(images), -1)
        if flat.shape[1] != self.in_features:
            raise ValueError(
                f"each image must have {self.in_features} values, got shape {tuple(images.shape)}"
            )
        return self.net(flat)


class DigitCNN(nn.Module):
    """Small convolutional baseline: images (B, H, W) -> logits (B, num_classes).

    Two 3×3 convolutions (padding 1), each followed by a ReLU and 2×2 max-pooling, then a
    hidden layer and a linear head. Locality and translation equivariance are built in: the
    same kernel looks at every neighbourhood of adjacent pixels.
    """

    def __init__(
        self,
        image_size: int = 8,
        channels: tuple[int, int] = (16, 32),
        hidden: int = 96,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        require_positive_int("image_size", image_size)
        require_positive_int("hidden", hidden)
        require_positive_int("num_classes", num_classes)
        if len(channels) != 2:
            raise ValueError(f"channels must be a pair (c1, c2), got {channels!r}")
        for value in channels:
            require_positive_int("channels", value)
        if image_size % 4:
            raise ValueError(
                f"image_size must be divisible by 4 (two 2×2 poolings), got {image_size}"
            )
        self.image_size = image_size
        first, second = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, first, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(first, second, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        side = image_size // 4
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(second * side * side, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_classes) for images (B, H, W) or (B, 1, H, W)."""
        images = _as_images(images)
        if images.shape[1:] != (self.image_size, self.image_size):
            raise ValueError(
                f"images must be {self.image_size}×{self.image_size}, got {tuple(images.shape)}"
            )
        return self.classifier(self.features(images[:, None]))


def training_step_flops(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> int:
    """Floating-point operations of one forward and backward pass on a batch images (B, ...), labels (B,).

    Counted by ``torch.utils.flop_counter`` from the shapes of the matrix products and
    convolutions (a multiply-add is 2 operations; element-wise work is not counted), so the
    count is exact and the same on every machine. The gradients are cleared afterwards.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    require_float_tensor("images", images)
    if not isinstance(labels, torch.Tensor) or labels.shape != (len(images),):
        raise ValueError(
            f"labels must have shape ({len(images)},), got {getattr(labels, 'shape', labels)}"
        )
    with FlopCounterMode(display=False) as counter:
        nn.functional.cross_entropy(model(images), labels).backward()
    model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())
