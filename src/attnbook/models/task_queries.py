"""One shared encoder, one learned attention query per task (chapter 2.3)."""

from __future__ import annotations

import torch
from torch import nn

from attnbook.attention import scaled_dot_product_attention
from attnbook.checks import require_float_tensor, require_positive_int

__all__ = ["TaskQueryPooling"]


class TaskQueryPooling(nn.Module):
    """Items (B, L, in_features) -> logits (B, num_tasks, num_classes), one attention pooling per task."""

    def __init__(self, in_features: int, d_model: int, num_tasks: int, num_classes: int) -> None:
        super().__init__()
        for name, value in (
            ("in_features", in_features),
            ("d_model", d_model),
            ("num_tasks", num_tasks),
            ("num_classes", num_classes),
        ):
            require_positive_int(name, value)
        self.in_features = in_features
        self.encoder = nn.Sequential(
            nn.Linear(in_features, d_model), nn.ReLU(), nn.Linear(d_model, d_model)
        )
        self.key_proj = nn.Linear(d_model, d_model, bias=False)
        self.value_proj = nn.Linear(d_model, d_model, bias=False)
        self.task_queries = nn.Parameter(0.1 * torch.randn(num_tasks, d_model))
        self.heads = nn.ModuleList(nn.Linear(d_model, num_classes) for _ in range(num_tasks))

    def _check(self, items: torch.Tensor) -> None:
        """Raise unless items is float (B, L, in_features)."""
        require_float_tensor("items", items)
        if items.dim() != 3 or items.shape[-1] != self.in_features or items.shape[1] == 0:
            raise ValueError(
                f"items must have shape (batch, length, {self.in_features}), got "
                f"{tuple(items.shape)}"
            )

    def pooled(self, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-task summaries (B, num_tasks, d_model) and attention weights (B, num_tasks, L)."""
        self._check(items)
        shared = self.encoder(items)
        return scaled_dot_product_attention(
            self.task_queries, self.key_proj(shared), self.value_proj(shared)
        )

    def attention_weights(self, items: torch.Tensor) -> torch.Tensor:
        """Each task's attention over the items: (B, L, in_features) -> (B, num_tasks, L)."""
        return self.pooled(items)[1]

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_tasks, num_classes) from items (B, L, in_features)."""
        summaries, _ = self.pooled(items)
        return torch.stack(
            [head(summaries[:, task]) for task, head in enumerate(self.heads)], dim=1
        )
