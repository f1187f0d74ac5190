"""One seeded training loop with a progress bar and a history of per-epoch metrics."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm import tqdm

from attnbook.checks import require_positive, require_positive_int
from attnbook.seeding import seed_everything, torch_generator

__all__ = [
    "IGNORE_INDEX",
    "Batch",
    "History",
    "accuracy",
    "count_parameters",
    "evaluate",
    "fit",
    "masked_accuracy",
    "seed_everything",
    "train_steps",
]

IGNORE_INDEX = -100  # a target the losses skip (padding, positions with nothing to predict)
Batch = tuple[torch.Tensor, torch.Tensor]  # (inputs, targets), as make_batch functions return


def count_parameters(model: nn.Module | Iterable[nn.Parameter]) -> int:
    """Number of trainable scalars (a count) in a module, or in an iterable of its parameters."""
    if isinstance(model, nn.Module):
        model = model.parameters()
    elif isinstance(model, torch.Tensor | str | bytes) or not isinstance(model, Iterable):
        raise TypeError(
            f"model must be a torch.nn.Module or an iterable of parameters, got {type(model).__name__}"
        )
    params = list(model)
    for p in params:
        if not isinstance(p, torch.Tensor):
            raise TypeError(f"expected parameters (tensors), got a {type(p).__name__}")
    return sum(p.numel() for p in params if p.requires_grad)


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of rows of logits (N, C) whose argmax equals targets (N,)."""
    if logits.dim() < 2 or logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"logits (..., C) and targets (...) must agree, got {tuple(logits.shape)} "
            f"and {tuple(targets.shape)}"
        )
    return (logits.argmax(dim=-1) == targets).float().mean().item()


@dataclass
class History:
    """Per-epoch records, e.g. {'epoch': 1, 'train_loss': 0.7, 'val_accuracy': 0.9}."""

    records: list[dict[str, float]] = field(default_factory=list)

    def series(self, key: str) -> list[float]:
        """The values of one metric, epoch by epoch."""
        if not self.records or key not in self.records[0]:
            known = sorted(self.records[0]) if self.records else []
            raise KeyError(f"no metric {key!r} in history; known: {known}")
        return [record[key] for record in self.records]

    @property
    def last(self) -> dict[str, float]:
        """The last epoch's record."""
        if not self.records:
            raise IndexError("history is empty")
        return self.records[-1]


@torch.no_grad()
def evaluate(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    batch_size: int = 512,
) -> tuple[float, float]:
    """Mean loss and accuracy of model on inputs (N, ...) with targets (N, ...)."""
    was_training = model.training
    model.eval()
    outputs = torch.cat(
        [model(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)]
    )
    model.train(was_training)
    return loss_fn(outputs, targets).item(), accuracy(outputs, targets)


Inputs = torch.Tensor | tuple[torch.Tensor, ...]  # one input tensor, or the model's arguments


def _rows(inputs: Inputs, batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The rows `batch` (B,) of the input tensor, or of each tensor of a tuple, as model arguments."""
    return tuple(t[batch] for t in inputs) if isinstance(inputs, tuple) else (inputs[batch],)


def _check_fit_inputs(inputs: Inputs, targets: torch.Tensor, scored: bool) -> int:
    """The number of training rows N; raise unless every input tensor and targets have N > 0 rows."""
    tensors = inputs if isinstance(inputs, tuple) else (inputs,)
    if not tensors or not all(isinstance(t, torch.Tensor) for t in tensors):
        raise TypeError("train inputs must be a tensor (N, ...) or a non-empty tuple of tensors")
    sizes = [len(t) for t in (*tensors, targets)]
    if len(set(sizes)) != 1 or sizes[0] == 0:
        shapes = [tuple(t.shape) for t in (*tensors, targets)]
        raise ValueError(
            f"train inputs and targets must be non-empty and equally long, got shapes {shapes}"
        )
    if isinstance(inputs, tuple) and scored:
        raise ValueError(
            "a tuple of inputs cannot be scored by fit: pass train_metrics=False and "
            "validation=None, and score with on_epoch_end"
        )
    return sizes[0]


def _train_epoch(
    model: nn.Module,
    train: tuple[Inputs, torch.Tensor],
    order: torch.Tensor,
    batch_size: int,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    clip: float | None,
) -> float:
    """One pass over the rows in `order` (N,), a step per minibatch; the mean minibatch loss."""
    inputs, targets = train
    loss_sum: torch.Tensor | float = 0.0  # summed on the loss's device: no sync per step
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        optimizer.zero_grad()
        loss = loss_fn(model(*_rows(inputs, batch)), targets[batch])
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        loss_sum = loss_sum + loss.detach().double() * len(batch)
    return float(loss_sum) / len(order)


def fit(
    model: nn.Module,
    train: tuple[Inputs, torch.Tensor],
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    validation: tuple[torch.Tensor, torch.Tensor] | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    seed: int = 0,
    progress: bool = True,
    description: str = "training",
    train_metrics: bool = True,
    clip: float | None = None,
    on_epoch_end: Callable[[int], None] | None = None,
) -> History:
    """Train model on (inputs (N, ...), targets (N,)) with AdamW; return per-epoch train/val metrics.

    Logits may be (N, C) or (N, L, C) with targets (N, L); the loss is cross-entropy by default.
    Every epoch records `batch_loss`, the mean loss of its minibatches (in training mode);
    `train_metrics=False` skips re-scoring the whole training set in eval mode after each
    epoch (`train_loss`, `train_accuracy`), a pass that costs about as much as the epoch's
    forward passes; it changes nothing about the training itself. `inputs` may be a tuple of
    tensors (N, ...), passed to the model as its arguments (then loss_fn takes whatever the model
    returns). `clip` caps the gradient norm per step; `on_epoch_end(epoch)` (from 1) runs after
    each epoch, e.g. to score a validation split.
    """
    inputs, targets = train
    n_rows = _check_fit_inputs(inputs, targets, train_metrics or validation is not None)
    require_positive_int("epochs", epochs)
    require_positive_int("batch_size", batch_size)
    require_positive("lr", lr)
    if clip is not None:
        require_positive("clip", clip)
    if not isinstance(train_metrics, bool):
        raise TypeError(f"train_metrics must be a bool, got {type(train_metrics).__name__}")
    if on_epoch_end is not None and not callable(on_epoch_end):
        raise TypeError("on_epoch_end must be callable or None")

    loss_fn = token_cross_entropy if loss_fn is None else loss_fn
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    generator = torch_generator(seed)
    history = History()
    bar = tqdm(range(1, epochs + 1), desc=description, disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        order = torch.randperm(n_rows, generator=generator)
        batch_loss = _train_epoch(model, train, order, batch_size, optimizer, loss_fn, clip)
        record = {"epoch": float(epoch), "batch_loss": batch_loss}
        if train_metrics:
            record["train_loss"], record["train_accuracy"] = evaluate(
                model, inputs, targets, loss_fn
            )
        if validation is not None:
            record["val_loss"], record["val_accuracy"] = evaluate(model, *validation, loss_fn)
        history.records.append(record)
        bar.set_postfix(loss=f"{record['batch_loss']:.3f}")
        if on_epoch_end is not None:
            on_epoch_end(epoch)
    model.eval()
    return history


def masked_accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Accuracy of logits (B, T, V) on targets (B, T), counting only targets != -100."""
    if logits.dim() != 3 or logits.shape[:2] != targets.shape:
        raise ValueError(
            f"logits must be (B, T, V) and targets (B, T), got {tuple(logits.shape)} and "
            f"{tuple(targets.shape)}"
        )
    scored = targets != IGNORE_INDEX
    if not bool(scored.any()):
        raise ValueError("targets has no scored position (all are -100)")
    return (logits.argmax(dim=-1)[scored] == targets[scored]).float().mean().item()


def token_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, *, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """Mean cross-entropy of logits (..., C) on targets (...), skipping ignore_index targets."""
    return nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=ignore_index
    )


def train_steps(
    model: nn.Module,
    make_batch: Callable[[torch.Generator], Batch],
    *,
    steps: int,
    lr: float,
    seed: int = 0,
    warmup_steps: int = 0,
    record_every: int = 1,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = token_cross_entropy,
    progress: bool = True,
    description: str = "training",
) -> list[float]:
    """Adam on a fresh batch make_batch(generator) -> (inputs, targets) each step; return losses.

    The loss is loss_fn(model(inputs), targets), by default the cross-entropy of logits
    (..., C) on targets (...) that skips IGNORE_INDEX. With warmup_steps > 0 the learning rate
    rises linearly from lr / warmup_steps to lr over the first warmup_steps steps. Every
    record_every-th step's loss is returned (a diverged run returns nan from then on).
    """
    require_positive_int("steps", steps)
    require_positive("lr", lr)
    require_positive_int("record_every", record_every)
    if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
        raise ValueError(f"warmup_steps must be an int >= 0, got {warmup_steps!r}")
    if not callable(make_batch):
        raise TypeError(f"make_batch must be callable, got {type(make_batch).__name__}")
    generator = torch_generator(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0
    )
    losses: list[float] = []
    model.train()
    for step in tqdm(range(steps), desc=description, disable=not progress, leave=False):
        inputs, targets = make_batch(generator)
        loss = loss_fn(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        if step % record_every == record_every - 1:
            value = loss.item()
            losses.append(value if math.isfinite(value) else math.nan)
    model.eval()
    return losses
