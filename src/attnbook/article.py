"""The seed article's section-6.2 model, rebuilt from its description, and checks that expose its defects.

What the article describes: three linear maps turn each row of a ``(batch, features)`` input
into a query, a key and a value; the attention weights are a softmax over ``query · keyᵀ``
(called "scaled" in the prose but never divided by √d); the weighted sum of values goes through
a ReLU and then straight into cross-entropy; the output has 30 units while the labels have 2
classes; every training step draws new Gaussian inputs and new random labels; the prose says
the optimiser is SGD while the code builds Adam.

This module keeps that model so the book can critique it. The checks (``batch_mate_influence``,
``shuffled_batch_disagreement``, ``scaling_gap``, ``clipped_output_fraction``,
``impossible_class_fraction``, ``above_chance``, ``optimizer_matches_prose``) work on *any*
classifier, so the same check that fails for ``ArticleAttentionModel`` passes for the
corrected model in ``attnbook.models.digit_rows``. The two attention checks need the model to
expose ``queries_and_keys(x) -> (q (..., n, d_k), k (..., n, d_k))`` and
``attention_weights(x) -> (..., n, n)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from attnbook.checks import (
    require_finite,
    require_float_tensor,
    require_positive,
    require_positive_int,
)
from attnbook.seeding import torch_generator
from attnbook.train import train_steps

__all__ = [
    "ARTICLE_BATCH_SIZE",
    "ARTICLE_CODE_OPTIMIZER",
    "ARTICLE_HIDDEN_DIM",
    "ARTICLE_INPUT_DIM",
    "ARTICLE_LR",
    "ARTICLE_NUM_CLASSES",
    "ARTICLE_OUTPUT_DIM",
    "ARTICLE_PROSE_OPTIMIZER",
    "ARTICLE_STEPS",
    "DEFECT_CHECKS",
    "ArticleAttentionModel",
    "InspectableAttention",
    "above_chance",
    "batch_mate_influence",
    "batched_accuracy",
    "batched_predictions",
    "chance_band",
    "clipped_output_fraction",
    "impossible_class_fraction",
    "optimizer_matches_prose",
    "random_label_batch",
    "record_optimizer_steps",
    "record_update_rules",
    "scaling_gap",
    "shuffled_batch_disagreement",
    "train_article_model",
    "update_rule",
]

# The numbers the article's example uses.
ARTICLE_INPUT_DIM = 10
ARTICLE_HIDDEN_DIM = 20
ARTICLE_OUTPUT_DIM = 30
ARTICLE_NUM_CLASSES = 2
ARTICLE_BATCH_SIZE = 32
ARTICLE_STEPS = 100
ARTICLE_LR = 1e-3
ARTICLE_PROSE_OPTIMIZER = "SGD"  # what the article's section 6.3 says
ARTICLE_CODE_OPTIMIZER = "Adam"  # what its section 6.2 code builds

# The five defects of the article's model, as six checks (defect 3 has two parts); chapter 6
# runs every one of them on the article's model and on the corrected one.
DEFECT_CHECKS = (
    "1 output independent of batch-mates",
    "2 scores scaled by 1/sqrt(d_k)",
    "3a logits can be negative",
    "3b one output per class",
    "4 held-out accuracy above chance",
    "5 prose names the optimiser used",
)


class InspectableAttention(Protocol):
    """A model whose attention can be inspected: q, k (..., n, d_k) and weights (..., n, n)."""

    def queries_and_keys(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Queries and keys (..., n, d_k) that the model's attention scores compare."""
        ...

    def attention_weights(self, inputs: torch.Tensor) -> torch.Tensor:
        """Attention weights (..., n_q, n_k), each row summing to 1."""
        ...


def _check_batch(name: str, inputs: object, features: int | None = None) -> torch.Tensor:
    tensor = require_float_tensor(name, inputs)
    if tensor.dim() != 2 or (features is not None and tensor.shape[1] != features):
        wanted = "features" if features is None else f"features={features}"
        raise ValueError(f"{name} must have shape (batch, {wanted}), got {tuple(tensor.shape)}")
    if tensor.shape[0] == 0:
        raise ValueError(f"{name} is empty: shape {tuple(tensor.shape)}")
    require_finite(name, tensor)
    return tensor


class ArticleAttentionModel(nn.Module):
    """The article's model: x (B, input_dim) -> relu(softmax(q kᵀ) v) (B, output_dim); rows attend to batch-mates."""

    def __init__(
        self,
        input_dim: int = ARTICLE_INPUT_DIM,
        hidden_dim: int = ARTICLE_HIDDEN_DIM,
        output_dim: int = ARTICLE_OUTPUT_DIM,
    ) -> None:
        super().__init__()
        for name, value in (
            ("input_dim", input_dim),
            ("hidden_dim", hidden_dim),
            ("output_dim", output_dim),
        ):
            require_positive_int(name, value)
        self.input_dim = input_dim
        self.query_proj = nn.Linear(input_dim, hidden_dim)
        self.key_proj = nn.Linear(input_dim, hidden_dim)
        self.value_proj = nn.Linear(input_dim, output_dim)

    def queries_and_keys(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Queries and keys (B, hidden_dim): the whole batch is treated as one sequence of B tokens."""
        _check_batch("inputs", inputs, self.input_dim)
        return self.query_proj(inputs), self.key_proj(inputs)

    def attention_weights(self, inputs: torch.Tensor) -> torch.Tensor:
        """Weights (B, B) = softmax(q kᵀ), unscaled: sample i attends to sample j."""
        queries, keys = self.queries_and_keys(inputs)
        return torch.softmax(queries @ keys.T, dim=1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Outputs (B, output_dim) = relu(weights @ values), used as logits."""
        weights = self.attention_weights(inputs)
        return torch.relu(weights @ self.value_proj(inputs))


def random_label_batch(
    batch_size: int = ARTICLE_BATCH_SIZE,
    input_dim: int = ARTICLE_INPUT_DIM,
    num_classes: int = ARTICLE_NUM_CLASSES,
    *,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The article's data: Gaussian inputs (B, input_dim) and labels (B,) drawn independently of them."""
    require_positive_int("batch_size", batch_size)
    require_positive_int("input_dim", input_dim)
    require_positive_int("num_classes", num_classes)
    inputs = torch.randn(batch_size, input_dim, generator=generator)
    labels = torch.randint(0, num_classes, (batch_size,), generator=generator)
    return inputs, labels


def train_article_model(
    model: nn.Module,
    steps: int = ARTICLE_STEPS,
    *,
    batch_size: int = ARTICLE_BATCH_SIZE,
    lr: float = ARTICLE_LR,
    num_classes: int = ARTICLE_NUM_CLASSES,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """The article's loop: each step a fresh random batch (B, input_dim), Adam, cross-entropy; returns (steps,) losses."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    require_positive_int("steps", steps)
    require_positive_int("batch_size", batch_size)
    require_positive("lr", lr)
    input_dim = getattr(model, "input_dim", ARTICLE_INPUT_DIM)
    return train_steps(
        model,
        lambda generator: random_label_batch(
            batch_size, input_dim, num_classes, generator=generator
        ),
        steps=steps,
        lr=lr,
        seed=seed,
        progress=progress,
        description="article loop",
    )


@torch.no_grad()
def batched_predictions(
    model: nn.Module, inputs: torch.Tensor, batch_size: int = ARTICLE_BATCH_SIZE
) -> torch.Tensor:
    """Argmax predictions (N,) of model on inputs (N, ...), fed in consecutive batches of batch_size."""
    require_float_tensor("inputs", inputs)
    require_positive_int("batch_size", batch_size)
    if inputs.dim() < 1 or len(inputs) == 0:
        raise ValueError(f"inputs must be a non-empty batch (N, ...), got {tuple(inputs.shape)}")
    was_training = model.training
    model.eval()
    predictions = torch.cat(
        [
            model(inputs[i : i + batch_size]).argmax(dim=-1)
            for i in range(0, len(inputs), batch_size)
        ]
    )
    model.train(was_training)
    return predictions


def batched_accuracy(
    model: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int = ARTICLE_BATCH_SIZE,
) -> float:
    """Accuracy of model on inputs (N, ...) against labels (N,), fed in batches of batch_size."""
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or len(labels) != len(inputs):
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(
            f"labels must have shape (N,) = ({len(inputs)},) to match inputs, got {shape}"
        )
    predictions = batched_predictions(model, inputs, batch_size)
    return (predictions == labels).float().mean().item()


def shuffled_batch_disagreement(
    model: nn.Module, inputs: torch.Tensor, batch_size: int = ARTICLE_BATCH_SIZE, seed: int = 0
) -> float:
    """Share of rows of inputs (N, ...) whose predicted class changes when the rows are shuffled into other batches."""
    require_float_tensor("inputs", inputs)
    if inputs.dim() < 1 or len(inputs) < 2:
        raise ValueError(f"inputs need at least 2 rows to shuffle, got {tuple(inputs.shape)}")
    order = torch.randperm(len(inputs), generator=torch_generator(seed))
    in_order = batched_predictions(model, inputs, batch_size)
    shuffled = torch.empty_like(in_order)
    shuffled[order] = batched_predictions(model, inputs[order], batch_size)
    return (in_order != shuffled).float().mean().item()


@torch.no_grad()
def batch_mate_influence(
    model: nn.Module, inputs: torch.Tensor, replacement: torch.Tensor, index: int = 0
) -> float:
    """Max |Δ output[index]| when every other row of inputs (B, ...) is swapped for replacement's (B, ...).

    Zero (up to rounding) means sample ``index`` is classified on its own; anything larger
    means its output depends on which other samples happen to share its batch.
    """
    require_float_tensor("inputs", inputs)
    require_float_tensor("replacement", replacement)
    if inputs.shape != replacement.shape:
        raise ValueError(
            f"inputs and replacement must have the same shape (B, ...), got "
            f"{tuple(inputs.shape)} and {tuple(replacement.shape)}"
        )
    if inputs.dim() < 1 or len(inputs) < 2:
        raise ValueError(f"inputs need a batch of at least 2 rows, got {tuple(inputs.shape)}")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(inputs):
        raise ValueError(f"index must be an int in [0, {len(inputs)}), got {index!r}")
    was_training = model.training
    model.eval()
    mixed = replacement.clone()
    mixed[index] = inputs[index]
    change = (model(inputs)[index] - model(mixed)[index]).abs().max().item()
    model.train(was_training)
    return change


@torch.no_grad()
def scaling_gap(model: InspectableAttention, inputs: torch.Tensor) -> float:
    """Max |weights − softmax(q kᵀ/√d_k)| over the model's attention weights (..., n, n); 0 if it scales."""
    queries, keys = model.queries_and_keys(inputs)
    weights = model.attention_weights(inputs)
    scale = 1.0 / math.sqrt(queries.shape[-1])
    expected = torch.softmax((queries @ keys.transpose(-2, -1)) * scale, dim=-1)
    if expected.shape != weights.shape:
        raise ValueError(
            f"attention_weights {tuple(weights.shape)} do not match the scores' shape "
            f"{tuple(expected.shape)} from queries {tuple(queries.shape)}"
        )
    return (weights - expected).abs().max().item()


@torch.no_grad()
def clipped_output_fraction(model: nn.Module, inputs: torch.Tensor) -> tuple[float, float]:
    """(fraction of outputs (B, C) exactly 0, minimum output): a ReLU head gives many zeros and min >= 0."""
    require_float_tensor("inputs", inputs)
    was_training = model.training
    model.eval()
    outputs = model(inputs)
    model.train(was_training)
    return (outputs == 0).float().mean().item(), outputs.min().item()


def impossible_class_fraction(predictions: torch.Tensor, num_classes: int) -> float:
    """Fraction of predicted classes (N,) that are >= num_classes, i.e. labels that cannot occur."""
    require_positive_int("num_classes", num_classes)
    if not isinstance(predictions, torch.Tensor) or predictions.is_floating_point():
        raise TypeError("predictions must be an integer tensor of class indices (N,)")
    if predictions.numel() == 0:
        raise ValueError("predictions is empty")
    return (predictions >= num_classes).float().mean().item()


def chance_band(chance: float, n: int, z: float = 3.0) -> float:
    """Half-width z·√(p(1−p)/n) of the accuracies a guesser with hit rate p reaches on n samples."""
    require_positive("chance", chance)
    if chance >= 1:
        raise ValueError(f"chance must be below 1, got {chance}")
    require_positive_int("n", n)
    require_positive("z", z)
    return z * math.sqrt(chance * (1 - chance) / n)


def above_chance(accuracy: float, chance: float, n: int, z: float = 3.0) -> bool:
    """True if an accuracy measured on n held-out samples beats chance by more than z standard errors."""
    if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)):
        raise TypeError(f"accuracy must be a number, got {type(accuracy).__name__}")
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"accuracy must lie in [0, 1], got {accuracy}")
    return accuracy > chance + chance_band(chance, n, z)


def update_rule(optimizer: torch.optim.Optimizer) -> str:
    """The update an optimiser takes, named by its rule, not its class: 'Adam', 'AdamW', 'SGD', ...

    AdamW with weight_decay=0 takes exactly Adam's steps, so it is 'Adam'; Adam with a
    weight_decay adds an L2 term to the gradient ('Adam with L2 penalty'); only a decoupled,
    non-zero weight decay is 'AdamW' (Loshchilov & Hutter). Other classes keep their name.
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    name = type(optimizer).__name__
    if name not in {"Adam", "AdamW"}:
        return name
    decay = max(float(group.get("weight_decay", 0.0)) for group in optimizer.param_groups)
    decoupled = name == "AdamW" or any(
        group.get("decoupled_weight_decay", False) for group in optimizer.param_groups
    )
    if decay == 0.0:
        return "Adam"
    return "AdamW" if decoupled else "Adam with L2 penalty"


@contextmanager
def _record_steps(describe: Callable[[torch.optim.Optimizer], str]) -> Iterator[list[str]]:
    names: list[str] = []

    def hook(optimizer: torch.optim.Optimizer, args: object, kwargs: object) -> None:
        names.append(describe(optimizer))

    handle = register_optimizer_step_pre_hook(hook)
    try:
        yield names
    finally:
        handle.remove()


@contextmanager
def record_optimizer_steps() -> Iterator[list[str]]:
    """Within the block, append the class name of every optimiser that takes a step to the yielded list."""
    with _record_steps(lambda optimizer: type(optimizer).__name__) as names:
        yield names


@contextmanager
def record_update_rules() -> Iterator[list[str]]:
    """Within the block, append the update_rule of every optimiser that takes a step to the yielded list."""
    with _record_steps(update_rule) as names:
        yield names


def optimizer_matches_prose(
    prose_optimizer: str, train: Callable[[], object]
) -> tuple[bool, set[str]]:
    """Run train() and report (whether every step used the rule `prose_optimizer`, the rules used).

    Rules, not class names, are compared (see ``update_rule``): prose that says 'AdamW' does not
    match ``torch.optim.AdamW(weight_decay=0)``, whose steps are Adam's.
    """
    if not isinstance(prose_optimizer, str) or not prose_optimizer:
        raise TypeError(f"prose_optimizer must be a non-empty str, got {prose_optimizer!r}")
    if not callable(train):
        raise TypeError(f"train must be callable, got {type(train).__name__}")
    with record_update_rules() as names:
        train()
    used = set(names)
    if not used:
        raise ValueError("train() took no optimiser step, so there is nothing to compare")
    return used == {prose_optimizer}, used
