"""Multi-task networks for MultiDigits canvases (B, 1, H, W): hard sharing, MTAN-style attention.

* ``HardSharingNet``: one shared conv backbone, one small head per task (Caruana, 1997).
  With a single task it is that task's single-task baseline (one network per task).
* ``MTANNet``: the same shared backbone plus, per task and per stage, a soft attention mask
  a = sigmoid(conv1x1(relu(conv1x1([shared features, previous task features])))) multiplied
  into the shared features, in the style of MTAN (Liu, Johns & Davison, 2019).

Before the heads, the (masked) stage-2 feature map is max-pooled to ``pool`` × ``pool`` cells
(2 × 2 by default: the left and right halves of the canvas stay apart), so each head is a small
MLP and most parameters sit in the shared backbone: hard sharing shares most of the network.

Heads: ``("classification", C)`` gives logits (B, C); ``("regression", (mean, std))`` gives a
prediction (B,) in the target's natural units, ``mean + std · z``, with mean and std fixed from
the training targets (so the loss is in natural units but the head starts at the right scale).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import nn

from attnbook.checks import require_positive_int, require_shape

__all__ = ["Backbone", "HardSharingNet", "MTANNet", "TaskHead"]

HeadSpec = tuple[str, object]


def _check_images(x: torch.Tensor) -> None:
    """x (B, 1, H, W) checked: a float tensor of one-channel images."""
    require_shape("x", x, (None, 1, None, None), "(B, 1, H, W)")


class Backbone(nn.Module):
    """Three conv layers in two stages: (B, 1, H, W) -> stage 1 (B, c1, H/2, W/2) -> stage 2 (B, c2, H/2, W/2).

    Each conv is followed by GroupNorm (per example, so it is the same on one process or
    several) and ReLU; stage 1 ends in a 2 × 2 max-pool, stage 2 has two 3 × 3 convs.
    """

    def __init__(self, channels: tuple[int, int] = (16, 32)) -> None:
        super().__init__()
        c1, c2 = (require_positive_int("channels", c) for c in channels)

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [
                nn.Conv2d(c_in, c_out, 3, padding=1),
                nn.GroupNorm(_groups(c_out), c_out),
                nn.ReLU(),
            ]

        self.stage1 = nn.Sequential(*block(1, c1), nn.MaxPool2d(2))
        self.stage2 = nn.Sequential(*block(c1, c2), *block(c2, c2))
        self.channels = (c1, c2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both stages' feature maps for x (B, 1, H, W)."""
        _check_images(x)
        s1 = self.stage1(x)
        return s1, self.stage2(s1)


def _groups(channels: int) -> int:
    """The largest of 4, 2, 1 that divides the channel count (GroupNorm's groups)."""
    return next(g for g in (4, 2, 1) if channels % g == 0)


class TaskHead(nn.Module):
    """Head on a feature map (B, c, h, w): logits (B, C) or a natural-unit prediction (B,)."""

    def __init__(self, in_features: int, spec: HeadSpec, hidden: int = 16) -> None:
        super().__init__()
        kind, arg = spec
        if kind not in ("classification", "regression"):
            raise ValueError(f"head kind must be 'classification' or 'regression', got {kind!r}")
        self.kind = kind
        out = require_positive_int("classes", arg) if kind == "classification" else 1
        hidden = require_positive_int("hidden", hidden)
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, out)
        )
        if kind == "regression":
            mean, std = arg  # type: ignore[misc]
            if not std > 0:
                raise ValueError(f"regression std must be > 0, got {std}")
            self.register_buffer("mean", torch.tensor(float(mean)))
            self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Logits (B, C) or prediction (B,) from features (B, c, h, w)."""
        out = self.net(features)
        if self.kind == "regression":
            return self.mean + self.std * out.squeeze(-1)
        return out


class HardSharingNet(nn.Module):
    """Shared backbone, pool, one head per task: x (B, 1, H, W) -> list of T outputs.

    ``canvas`` is checked but no longer sizes anything: the pool makes the heads independent of it.
    """

    def __init__(
        self,
        heads: Sequence[HeadSpec],
        canvas: int = 12,
        channels: tuple[int, int] = (16, 32),
        pool: int = 2,
        hidden: int = 16,
    ) -> None:
        super().__init__()
        if len(heads) == 0:
            raise ValueError("need at least one head")
        require_positive_int("canvas", canvas)
        self.backbone = Backbone(channels)
        self.pool = nn.AdaptiveMaxPool2d(require_positive_int("pool", pool))
        self.heads = nn.ModuleList(TaskHead(channels[1] * pool * pool, h, hidden) for h in heads)

    def shared_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters every task uses (the backbone)."""
        return self.backbone.parameters()

    def last_shared_layer(self) -> nn.Module:
        """The last shared conv (GradNorm's W)."""
        return self.backbone.stage2[3]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """One output per task for x (B, 1, H, W)."""
        _, features = self.backbone(x)
        pooled = self.pool(features)
        return [head(pooled) for head in self.heads]


class _AttentionMask(nn.Module):
    """sigmoid(conv1x1(relu(conv1x1(inputs)))) with a narrow middle: (B, c_in, h, w) -> (B, c_out, h, w)."""

    def __init__(self, c_in: int, c_out: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(c_in, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, c_out, 1), nn.Sigmoid()
        )

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.net(inputs)


class MTANNet(nn.Module):
    """Shared backbone with per-task soft attention masks at each stage -> list of T outputs."""

    def __init__(
        self,
        heads: Sequence[HeadSpec],
        canvas: int = 12,
        channels: tuple[int, int] = (16, 32),
        pool: int = 2,
        hidden: int = 16,
    ) -> None:
        super().__init__()
        if len(heads) == 0:
            raise ValueError("need at least one head")
        require_positive_int("canvas", canvas)
        c1, c2 = channels
        self.backbone = Backbone(channels)
        n = len(heads)
        # narrow 1x1 bottlenecks (a quarter of the channels) keep each task's attention small
        self.mask1 = nn.ModuleList(_AttentionMask(c1, c1, max(1, c1 // 4)) for _ in range(n))
        self.bridge = nn.ModuleList(nn.Conv2d(c1, c2, 1) for _ in range(n))
        self.mask2 = nn.ModuleList(_AttentionMask(2 * c2, c2, max(1, c2 // 4)) for _ in range(n))
        self.pool = nn.AdaptiveMaxPool2d(require_positive_int("pool", pool))
        self.heads = nn.ModuleList(TaskHead(c2 * pool * pool, h, hidden) for h in heads)

    def attention_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of the task-specific attention modules (masks and bridges)."""
        for modules in (self.mask1, self.bridge, self.mask2):
            yield from modules.parameters()

    def shared_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters every task uses (the backbone)."""
        return self.backbone.parameters()

    def last_shared_layer(self) -> nn.Module:
        """The last shared conv (GradNorm's W)."""
        return self.backbone.stage2[3]

    @torch.no_grad()
    def masks(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per task, the stage-1 (B, c1, h, w) and stage-2 (B, c2, h, w) attention masks."""
        s1, s2 = self.backbone(x)
        out = []
        for t in range(len(self.heads)):
            a1 = self.mask1[t](s1)
            bridged = torch.relu(self.bridge[t](a1 * s1))
            a2 = self.mask2[t](torch.cat([s2, bridged], dim=1))
            out.append((a1, a2))
        return out

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """One output per task for x (B, 1, H, W)."""
        s1, s2 = self.backbone(x)
        outputs = []
        for t, head in enumerate(self.heads):
            a1 = self.mask1[t](s1)
            bridged = torch.relu(self.bridge[t](a1 * s1))
            a2 = self.mask2[t](torch.cat([s2, bridged], dim=1))
            outputs.append(head(self.pool(a2 * s2)))
        return outputs
