"""The article's flowchart as a model: each node of the diagram is one submodule.

    A[input] --> B[feature extraction] --> C{multi-task learning}
    C -->|task 1| D[task 1 head] --> F[outputs]
    C -->|task 2| E[task 2 head] --> F

``NODES`` maps the diagram's node ids to submodule names; ``FlowchartNet.forward`` calls them in
the diagram's order. Node C is task attention: one learned query per task attends over the
h·w positions of the shared feature map (scaled dot-product attention), so each task pools the
part of the canvas it needs; ``FlowchartNet.attention`` returns those weights.
"""

from __future__ import annotations

import torch
from torch import nn

from attnbook.attention import scaled_dot_product_attention
from attnbook.checks import require_float_tensor, require_min_dims, require_positive_int

__all__ = [
    "EDGES",
    "NODES",
    "FeatureExtractor",
    "FlowchartNet",
    "InputNode",
    "OutputNode",
    "TaskAttention",
]

NODES: dict[str, str] = {
    "A": "input",
    "B": "features",
    "C": "multitask",
    "D": "task1",
    "E": "task2",
    "F": "output",
}
EDGES: tuple[tuple[str, str], ...] = (
    ("A", "B"),
    ("B", "C"),
    ("C", "D"),
    ("C", "E"),
    ("D", "F"),
    ("E", "F"),
)


class InputNode(nn.Module):
    """Node A: checks and passes on canvases (B, 1, H, W) float."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 1, H, W), unchanged."""
        require_float_tensor("x", x)
        require_min_dims("x", x, 4, "(B, 1, H, W)")
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"x must be (B, 1, H, W), got {tuple(x.shape)}")
        return x


class FeatureExtractor(nn.Module):
    """Node B: shared conv features (B, 1, H, W) -> tokens (B, (H/2)·(W/2), d) with positions."""

    def __init__(self, d: int = 32, canvas: int = 12) -> None:
        super().__init__()
        require_positive_int("d", d)
        self.conv = nn.Sequential(
            nn.Conv2d(1, d, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(d, d, 3, padding=1),
            nn.ReLU(),
        )
        self.position = nn.Parameter(torch.zeros((canvas // 2) ** 2, d))
        nn.init.normal_(self.position, std=0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens (B, n, d), one per cell of the pooled feature map, plus a learned position."""
        features = self.conv(x).flatten(2).transpose(1, 2)
        if features.shape[1] != self.position.shape[0]:
            raise ValueError(
                f"canvas gives {features.shape[1]} positions, model was built for "
                f"{self.position.shape[0]}"
            )
        return features + self.position


class TaskAttention(nn.Module):
    """Node C: q learned queries per task attend over tokens (B, n, d) -> (B, T, q·d).

    The attention weights (B, T, q, n) of the last call are kept in ``last_weights``.
    """

    def __init__(self, d: int = 32, n_tasks: int = 2, queries_per_task: int = 4) -> None:
        super().__init__()
        require_positive_int("n_tasks", n_tasks)
        require_positive_int("queries_per_task", queries_per_task)
        self.shape = (n_tasks, queries_per_task)
        self.queries = nn.Parameter(torch.randn(n_tasks * queries_per_task, d))
        self.key = nn.Linear(d, d)
        self.value = nn.Linear(d, d)
        self.last_weights: torch.Tensor | None = None

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Per-task pooled features (B, T, q·d) from tokens (B, n, d)."""
        batch, n, _ = tokens.shape
        out, weights = scaled_dot_product_attention(
            self.queries.expand(batch, -1, -1), self.key(tokens), self.value(tokens)
        )
        self.last_weights = weights.detach().view(batch, *self.shape, n)
        return out.reshape(batch, self.shape[0], -1)


class OutputNode(nn.Module):
    """Node F: collects the task outputs into a tuple (logits1 (B, C), logits2 (B, C))."""

    def forward(self, *outputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The task outputs, as one tuple."""
        return tuple(outputs)


class FlowchartNet(nn.Module):
    """The diagram executed: x (B, 1, H, W) -> (left-digit logits (B, 10), right-digit logits (B, 10))."""

    def __init__(
        self, d: int = 32, canvas: int = 12, classes: int = 10, queries_per_task: int = 4
    ) -> None:
        super().__init__()
        self.input = InputNode()
        self.features = FeatureExtractor(d, canvas)
        self.multitask = TaskAttention(d, 2, queries_per_task)
        width = d * queries_per_task
        self.task1 = nn.Sequential(nn.Linear(width, d), nn.ReLU(), nn.Linear(d, classes))
        self.task2 = nn.Sequential(nn.Linear(width, d), nn.ReLU(), nn.Linear(d, classes))
        self.output = OutputNode()

    def shared_parameters(self) -> list[nn.Parameter]:
        """Parameters both tasks use: the feature extractor and the attention's key/value maps."""
        m = self.multitask
        return [*self.features.parameters(), *m.key.parameters(), *m.value.parameters()]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A -> B -> C -> (D, E) -> F."""
        tokens = self.features(self.input(x))
        per_task = self.multitask(tokens)
        return self.output(self.task1(per_task[:, 0]), self.task2(per_task[:, 1]))

    @torch.no_grad()
    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Task attention weights (B, 2, q, n) over the n feature positions for x (B, 1, H, W)."""
        was_training = self.training
        self.eval()
        self(x)
        self.train(was_training)
        return self.multitask.last_weights
