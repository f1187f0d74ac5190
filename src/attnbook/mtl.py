"""Multi-task learning: loss weighting strategies, the Δm% metric and a multi-task training loop.

Weightings (each a formula from its paper, each unit-tested on a hand-checked case):

* ``equal``: L = Σ_t L_t.
* ``uncertainty`` (Kendall, Gal & Cipolla, 2018): with s_t = log σ_t² learned,
  L = Σ_t c_t · exp(-s_t) · L_t + s_t / 2, with c_t = 1/2 for regression and 1 for
  classification (their eqs. 7 and 10).
* ``dwa``, Dynamic Weight Average (Liu, Johns & Davison, 2019): λ_t(e) = T · softmax_t(r_t / τ)
  with r_t = L_t(e-1) / L_t(e-2) from the previous two epochs' mean losses, τ = 2; λ = 1 for
  the first two epochs.
* ``gradnorm`` (Chen et al., 2018): learned weights w_t; G_t = ‖∇_W w_t L_t‖ on the last shared
  layer W; the weights descend L_grad = Σ_t |G_t − mean(G) · r_t^α| with the target held
  constant, r_t = L̃_t / mean(L̃), L̃_t = L_t / L_t(0); then renormalised to Σ w = T.
* ``pcgrad`` (Yu et al., 2020): per-task gradients of the shared parameters; each g_i is
  projected off every g_j (random order) it conflicts with (g_i · g_j < 0); the sum is used.

Δm% (Maninis et al., 2019; Vandenhende et al., 2022): the mean over tasks of
(−1)^{l_t} (M_t − B_t) / B_t × 100, with l_t = 1 when lower is better.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from tqdm import tqdm

from attnbook.checks import (
    require_finite,
    require_float_tensor,
    require_positive,
    require_positive_int,
)
from attnbook.seeding import torch_generator
from attnbook.train import History

__all__ = [
    "WEIGHTINGS",
    "MTLHistory",
    "Task",
    "delta_m",
    "dwa_weights",
    "evaluate_tasks",
    "gradnorm_balance_point",
    "gradnorm_targets",
    "gradnorm_weight_grad",
    "make_weighting",
    "pcgrad",
    "seed_interval",
    "task_gradient_norms",
    "train_multitask",
    "uncertainty_loss",
]

WEIGHTINGS: tuple[str, ...] = ("equal", "uncertainty", "dwa", "gradnorm", "pcgrad")


def _check_losses(name: str, losses: torch.Tensor) -> torch.Tensor:
    require_float_tensor(name, losses)
    if losses.dim() != 1 or losses.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 1-D tensor (T,), got {tuple(losses.shape)}")
    require_finite(name, losses)
    return losses


# ----------------------------------------------------------------------------- the formulas
def uncertainty_loss(
    losses: torch.Tensor, log_vars: torch.Tensor, regression: Sequence[bool]
) -> torch.Tensor:
    """Kendall et al.'s total loss Σ c_t exp(-s_t) L_t + s_t/2 from losses (T,) and s = log σ² (T,)."""
    _check_losses("losses", losses)
    require_float_tensor("log_vars", log_vars)
    if log_vars.shape != losses.shape or len(regression) != losses.numel():
        raise ValueError(
            f"losses {tuple(losses.shape)}, log_vars {tuple(log_vars.shape)} and regression "
            f"(length {len(regression)}) must all have T entries"
        )
    factor = torch.tensor(
        [0.5 if r else 1.0 for r in regression], dtype=losses.dtype, device=losses.device
    )
    return (factor * torch.exp(-log_vars) * losses + 0.5 * log_vars).sum()


def dwa_weights(
    previous: torch.Tensor | None, before: torch.Tensor | None, temperature: float = 2.0
) -> torch.Tensor:
    """DWA weights (T,) from the mean task losses (T,) of the previous two epochs (None: ones)."""
    require_positive("temperature", temperature)
    if previous is None or before is None:
        if previous is None and before is None:
            raise ValueError("need at least one loss vector to know the number of tasks T")
        known = previous if previous is not None else before
        return torch.ones_like(_check_losses("previous/before", known))
    _check_losses("previous", previous)
    _check_losses("before", before)
    if previous.shape != before.shape:
        raise ValueError(
            f"previous {tuple(previous.shape)} and before {tuple(before.shape)} must match"
        )
    if bool((before <= 0).any()):
        raise ValueError(f"before must be > 0 to form loss ratios, got {before.tolist()}")
    ratios = previous / before
    return previous.numel() * torch.softmax(ratios / temperature, dim=0)


def gradnorm_weight_grad(
    grad_norms: torch.Tensor,
    weights: torch.Tensor,
    losses: torch.Tensor,
    initial_losses: torch.Tensor,
    alpha: float = 1.5,
) -> torch.Tensor:
    """∂L_grad/∂w (T,) from unweighted gradient norms ‖∇_W L_t‖ (T,), weights, losses, L(0)."""
    for name, value in (
        ("grad_norms", grad_norms),
        ("weights", weights),
        ("losses", losses),
        ("initial_losses", initial_losses),
    ):
        _check_losses(name, value)
        if value.shape != grad_norms.shape:
            raise ValueError(
                f"{name} {tuple(value.shape)} must match grad_norms {tuple(grad_norms.shape)}"
            )
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha < 0:
        raise ValueError(f"alpha must be a number >= 0, got {alpha!r}")
    if bool((initial_losses <= 0).any()):
        raise ValueError(f"initial_losses must be > 0, got {initial_losses.tolist()}")
    weighted_norms, target = gradnorm_targets(grad_norms, weights, losses, initial_losses, alpha)
    return torch.sign(weighted_norms - target) * grad_norms


def gradnorm_targets(
    grad_norms: torch.Tensor,
    weights: torch.Tensor,
    losses: torch.Tensor,
    initial_losses: torch.Tensor,
    alpha: float = 1.5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GradNorm's achieved norms G_t = w_t ‖∇_W L_t‖ (T,) and their targets mean(G) · r_t^α (T,)."""
    weighted_norms = weights * grad_norms  # G_t = w_t ‖∇ L_t‖ (w_t > 0)
    inverse_rate = losses / initial_losses
    relative = inverse_rate / inverse_rate.mean()
    target = weighted_norms.mean() * relative**alpha  # held constant
    return weighted_norms, target


def gradnorm_balance_point(grad_norms: torch.Tensor) -> torch.Tensor:
    """The weights (T,), summing to T, at which every w_t ‖∇_W L_t‖ (from norms (T,)) is equal.

    This is GradNorm's fixed point while every task trains at the same rate (r_t = 1), for any α.
    """
    _check_losses("grad_norms", grad_norms)
    if bool((grad_norms <= 0).any()):
        raise ValueError(f"grad_norms must be > 0, got {grad_norms.tolist()}")
    inverse = 1.0 / grad_norms
    return grad_norms.numel() * inverse / inverse.sum()


def task_gradient_norms(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: Sequence[torch.Tensor],
    tasks: Sequence[Task],
    parameters: Sequence[nn.Parameter] | None = None,
) -> torch.Tensor:
    """‖∇ L_t‖ (T,) of each task's unweighted loss on one batch inputs (B, ...), targets T × (B,).

    ``parameters`` defaults to ``model.shared_parameters()``; the model's gradients are untouched.
    """
    require_float_tensor("inputs", inputs)
    if len(targets) != len(tasks) or any(len(t) != len(inputs) for t in targets):
        raise ValueError(
            f"need one target (B,) per task: {len(tasks)} tasks, {len(targets)} targets, "
            f"B = {len(inputs)}"
        )
    params = list(model.shared_parameters() if parameters is None else parameters)
    if not params:
        raise ValueError("no parameters to take the gradient norm on")
    outputs = model(inputs)
    norms = []
    for t, (task, out, y) in enumerate(zip(tasks, outputs, targets, strict=True)):
        loss = task.loss(out, y)
        norms.append(_flat_grad(loss, params, retain=t < len(tasks) - 1).norm())
    return torch.stack(norms).detach()


def pcgrad(grads: torch.Tensor, order: Sequence[Sequence[int]] | None = None) -> torch.Tensor:
    """PCGrad's combined gradient (P,) from per-task gradients (T, P); order[i] lists j ≠ i."""
    require_float_tensor("grads", grads)
    if grads.dim() != 2 or grads.shape[0] < 1:
        raise ValueError(f"grads must be (T, P) with T >= 1, got {tuple(grads.shape)}")
    n_tasks = grads.shape[0]
    if order is None:
        order = [[j for j in range(n_tasks) if j != i] for i in range(n_tasks)]
    if len(order) != n_tasks:
        raise ValueError(f"order must have one list per task ({n_tasks}), got {len(order)}")
    projected = grads.clone()
    for i in range(n_tasks):
        if sorted(order[i]) != [j for j in range(n_tasks) if j != i]:
            raise ValueError(f"order[{i}] must list every other task once, got {list(order[i])}")
        for j in order[i]:
            dot = projected[i] @ grads[j]
            if dot < 0:
                projected[i] = (
                    projected[i] - dot / grads[j].pow(2).sum().clamp_min(1e-20) * grads[j]
                )
    return projected.sum(dim=0)


def delta_m(
    metrics: dict[str, float], baselines: dict[str, float], higher_is_better: dict[str, bool]
) -> float:
    """Δm% = mean_t (−1)^{l_t} (M_t − B_t) / B_t × 100 over the tasks named in baselines."""
    if not baselines:
        raise ValueError("baselines is empty")
    total = 0.0
    for name, base in baselines.items():
        if name not in metrics or name not in higher_is_better:
            raise ValueError(
                f"task {name!r} is missing from metrics {sorted(metrics)} or "
                f"higher_is_better {sorted(higher_is_better)}"
            )
        if base == 0 or not math.isfinite(base):
            raise ValueError(f"baseline of {name!r} must be finite and non-zero, got {base}")
        sign = 1.0 if higher_is_better[name] else -1.0
        total += sign * (metrics[name] - base) / abs(base)
    return 100.0 * total / len(baselines)


def seed_interval(values: Sequence[float], level: float = 0.999) -> tuple[float, float]:
    """Prediction interval for one more seed from n >= 2 seeds' values: mean ± t · std · √(1 + 1/n).

    A re-run on another CPU or with another seed is one more draw, so it should land here (with
    probability ``level`` if the seeds' values are normal), not on one committed value.
    """
    from scipy import stats

    if len(values) < 2:
        raise ValueError(f"need at least 2 values, got {len(values)}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    data = torch.tensor([float(v) for v in values], dtype=torch.float64)
    n = len(data)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * data.std().item() * math.sqrt(1 + 1 / n)
    return data.mean().item() - half, data.mean().item() + half


# ----------------------------------------------------------------------------- the trainer
@dataclass(frozen=True)
class Task:
    """One task: a name, 'classification' (targets (N,) int64) or 'regression' (targets (N,) float)."""

    name: str
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in ("classification", "regression"):
            raise ValueError(
                f"task kind must be 'classification' or 'regression', got {self.kind!r}"
            )

    @property
    def higher_is_better(self) -> bool:
        """Accuracy is better higher; mean absolute error lower."""
        return self.kind == "classification"

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of logits (B, C) or mean squared error of predictions (B,)."""
        if self.kind == "classification":
            return nn.functional.cross_entropy(output, target)
        return nn.functional.mse_loss(output, target)

    def metric(self, output: torch.Tensor, target: torch.Tensor) -> float:
        """Accuracy (classification) or mean absolute error in the target's units (regression)."""
        if self.kind == "classification":
            return (output.argmax(-1) == target).float().mean().item()
        return (output - target).abs().mean().item()


def make_weighting(
    name: str, n_tasks: int, device: torch.device | str | None = None
) -> nn.Module | None:
    """The learnable parameters a weighting needs: s = log σ² (T,) or GradNorm's w (T,), else None."""
    if name not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {name!r}")
    require_positive_int("n_tasks", n_tasks)
    if name in ("uncertainty", "gradnorm"):
        holder = nn.Module()
        init = (torch.zeros if name == "uncertainty" else torch.ones)(n_tasks, device=device)
        holder.values = nn.Parameter(init)
        return holder
    return None


@dataclass
class MTLHistory(History):
    """Per-epoch records ('loss/<task>', 'weight/<task>', metrics) and PCGrad's conflict counts."""

    conflicts: int = 0
    pairs: int = 0


@torch.no_grad()
def evaluate_tasks(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: Sequence[torch.Tensor],
    tasks: Sequence[Task],
    batch_size: int = 1000,
) -> dict[str, float]:
    """Metric per task name for model(inputs (N, ...)) -> T outputs against targets (T × (N,))."""
    was_training = model.training
    model.eval()
    chunks = [model(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)]
    model.train(was_training)
    outputs = [torch.cat([chunk[t] for chunk in chunks]) for t in range(len(tasks))]
    return {
        task.name: task.metric(out, target)
        for task, out, target in zip(tasks, outputs, targets, strict=True)
    }


def _flat_grad(loss: torch.Tensor, params: list[nn.Parameter], retain: bool) -> torch.Tensor:
    grads = torch.autograd.grad(loss, params, retain_graph=retain, allow_unused=True)
    return torch.cat(
        [
            (g if g is not None else torch.zeros_like(p)).reshape(-1)
            for g, p in zip(grads, params, strict=True)
        ]
    )


def train_multitask(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: Sequence[torch.Tensor],
    tasks: Sequence[Task],
    *,
    weighting: str = "equal",
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    alpha: float = 1.5,
    temperature: float = 2.0,
    weight_lr: float = 0.025,
    progress: bool = True,
    description: str = "multi-task",
    batch_loader: Callable[[int], list[torch.Tensor]] | None = None,
    steps_per_epoch: int | None = None,
    static_weights: Sequence[float] | None = None,
) -> MTLHistory:
    """Train model(x (B, ...)) -> T outputs on inputs (N, ...) and targets T × (N,) with a weighting.

    The model must have ``shared_parameters()``; GradNorm also uses ``last_shared_layer()``.
    ``batch_loader(step)`` may replace the shuffled mini-batches (the distributed runner uses it);
    it returns [inputs, *targets] for one step. ``static_weights`` (T positive numbers, only with
    ``weighting="equal"``) replaces the ones: L = Σ_t λ_t L_t with fixed λ. GradNorm's records
    also hold each epoch's mean achieved norm 'gradnorm_G/<task>' and target 'gradnorm_target/<task>'.
    """
    fixed = _check_training(
        inputs, targets, tasks, weighting, epochs, batch_size, lr, static_weights
    )
    run = _Run(model, tasks, weighting, fixed, lr, weight_lr, alpha, torch_generator(seed))
    n_steps = steps_per_epoch or math.ceil(len(inputs) / batch_size)
    bar = tqdm(range(1, epochs + 1), desc=description, disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        run.start_epoch(temperature)
        order = torch.randperm(len(inputs), generator=run.generator, device=run.generator.device)
        for step in range(n_steps):
            if batch_loader is not None:
                x, *ys = batch_loader((epoch - 1) * n_steps + step)
            else:
                batch = order[step * batch_size : (step + 1) * batch_size]
                x, ys = inputs[batch], [t[batch] for t in targets]
            run.step(x, ys)
        mean_losses = run.end_epoch(epoch, n_steps)
        bar.set_postfix(loss=f"{mean_losses.sum().item():.3f}")
    model.eval()
    return run.history


def _check_training(
    inputs: torch.Tensor,
    targets: Sequence[torch.Tensor],
    tasks: Sequence[Task],
    weighting: str,
    epochs: int,
    batch_size: int,
    lr: float,
    static_weights: Sequence[float] | None,
) -> torch.Tensor:
    """Check train_multitask's arguments; return the fixed task weights λ (T,) (ones by default)."""
    require_float_tensor("inputs", inputs)
    if len(targets) != len(tasks) or any(len(t) != len(inputs) for t in targets):
        raise ValueError(
            f"need one target (N,) per task: {len(tasks)} tasks, {len(targets)} targets, "
            f"N = {len(inputs)}"
        )
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    require_positive_int("epochs", epochs)
    require_positive_int("batch_size", batch_size)
    require_positive("lr", lr)
    if static_weights is None:
        return torch.ones(len(tasks), device=inputs.device)
    if weighting != "equal":
        raise ValueError(f"static_weights need weighting='equal', got {weighting!r}")
    fixed = torch.tensor([float(w) for w in static_weights], device=inputs.device)
    if fixed.shape != (len(tasks),) or not bool((fixed > 0).all() & fixed.isfinite().all()):
        raise ValueError(
            f"static_weights must be {len(tasks)} finite numbers > 0, got {list(static_weights)}"
        )
    return fixed


class _Run:
    """One train_multitask run: its optimisers, the weighting's state and the epoch's sums."""

    def __init__(
        self,
        model: nn.Module,
        tasks: Sequence[Task],
        weighting: str,
        fixed: torch.Tensor,
        lr: float,
        weight_lr: float,
        alpha: float,
        generator: torch.Generator,
    ) -> None:
        self.model, self.tasks, self.weighting = model, list(tasks), weighting
        self.fixed, self.alpha, self.generator = fixed, alpha, generator
        self.n_tasks, self.device = len(tasks), fixed.device
        self.extra = make_weighting(weighting, self.n_tasks, self.device)
        self.shared = [p for p in model.shared_parameters() if p.requires_grad]
        shared_ids = {id(p) for p in self.shared}
        self.specific = [
            p for p in model.parameters() if id(p) not in shared_ids and p.requires_grad
        ]
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        self.weight_optimizer = (
            torch.optim.Adam(self.extra.parameters(), lr=weight_lr)
            if self.extra is not None
            else None
        )
        self.regression = [task.kind == "regression" for task in tasks]
        self.history = MTLHistory()
        self.epoch_losses: list[torch.Tensor] = []
        self.initial_losses: torch.Tensor | None = None  # GradNorm's L_t(0)

    def start_epoch(self, temperature: float) -> None:
        """Zero the epoch's sums; DWA's λ from the previous two epochs' mean losses."""
        self.lambdas = self.fixed.clone()
        if self.weighting == "dwa" and len(self.epoch_losses) >= 2:
            self.lambdas = dwa_weights(self.epoch_losses[-1], self.epoch_losses[-2], temperature)
        zeros = lambda: torch.zeros(self.n_tasks, device=self.device)  # noqa: E731
        self.sums, self.weight_sums = zeros(), zeros()
        self.achieved_sums, self.target_sums = zeros(), zeros()

    def step(self, x: torch.Tensor, ys: Sequence[torch.Tensor]) -> None:
        """One optimiser step on a batch x (B, ...) with targets T × (B,)."""
        outputs = self.model(x)
        losses = torch.stack(
            [task.loss(out, y) for task, out, y in zip(self.tasks, outputs, ys, strict=True)]
        )
        self.sums += losses.detach()
        self.optimizer.zero_grad()
        if self.weight_optimizer is not None:
            self.weight_optimizer.zero_grad()
        used = self._backward(losses)
        self.optimizer.step()
        if self.weight_optimizer is not None:
            self.weight_optimizer.step()
            if self.weighting == "gradnorm":
                with torch.no_grad():
                    self.extra.values.clamp_(min=1e-3)
                    self.extra.values.mul_(self.n_tasks / self.extra.values.sum())
        self.weight_sums += used

    def _backward(self, losses: torch.Tensor) -> torch.Tensor:
        """Set the gradients for the task losses (T,) by the weighting; return the λ used (T,)."""
        if self.weighting in ("equal", "dwa"):
            (self.lambdas * losses).sum().backward()
            return self.lambdas
        if self.weighting == "uncertainty":
            uncertainty_loss(losses, self.extra.values, self.regression).backward()
            factor = torch.tensor([0.5 if r else 1.0 for r in self.regression], device=self.device)
            return (factor * torch.exp(-self.extra.values)).detach()
        if self.weighting == "gradnorm":
            return self._backward_gradnorm(losses)
        return self._backward_pcgrad(losses)

    def _backward_gradnorm(self, losses: torch.Tensor) -> torch.Tensor:
        """GradNorm: gradients of Σ w_t L_t, and of the weights w from the norm targets."""
        if self.initial_losses is None:
            self.initial_losses = losses.detach().clone()
        w = self.extra.values.detach().clone()
        layer = list(self.model.last_shared_layer().parameters())
        norms = torch.stack(
            [_flat_grad(losses[t], layer, retain=True).norm() for t in range(self.n_tasks)]
        )
        (w * losses).sum().backward()
        self.extra.values.grad = gradnorm_weight_grad(
            norms, w, losses.detach(), self.initial_losses, self.alpha
        )
        achieved, target = gradnorm_targets(
            norms.detach(), w, losses.detach(), self.initial_losses, self.alpha
        )
        self.achieved_sums += achieved
        self.target_sums += target
        return w

    def _backward_pcgrad(self, losses: torch.Tensor) -> torch.Tensor:
        """PCGrad: shared gradients with conflicts projected away, task gradients summed elsewhere."""
        n_tasks = self.n_tasks
        grads = torch.stack(
            [_flat_grad(losses[t], self.shared, retain=True) for t in range(n_tasks)]
        )
        dots = grads @ grads.T
        upper = torch.triu(
            torch.ones(n_tasks, n_tasks, dtype=torch.bool, device=self.device), diagonal=1
        )
        self.history.conflicts += int((dots[upper] < 0).sum())
        self.history.pairs += int(upper.sum())
        order_tasks = [
            [
                j
                for j in torch.randperm(
                    n_tasks, generator=self.generator, device=self.generator.device
                ).tolist()
                if j != i
            ]
            for i in range(n_tasks)
        ]
        combined = pcgrad(grads, order_tasks)
        specific_grads = torch.autograd.grad(losses.sum(), self.specific, allow_unused=True)
        offset = 0
        for p in self.shared:
            p.grad = combined[offset : offset + p.numel()].view_as(p).clone()
            offset += p.numel()
        for p, g in zip(self.specific, specific_grads, strict=True):
            p.grad = g
        return torch.ones(n_tasks, device=self.device)

    def end_epoch(self, epoch: int, n_steps: int) -> torch.Tensor:
        """Record the epoch's mean losses, weights (and GradNorm's norms); return the losses (T,)."""
        mean_losses = self.sums / n_steps
        self.epoch_losses.append(mean_losses)
        record: dict[str, float] = {"epoch": float(epoch)}
        for t, task in enumerate(self.tasks):
            record[f"loss/{task.name}"] = mean_losses[t].item()
            record[f"weight/{task.name}"] = (self.weight_sums[t] / n_steps).item()
            if self.weighting == "gradnorm":
                record[f"gradnorm_G/{task.name}"] = (self.achieved_sums[t] / n_steps).item()
                record[f"gradnorm_target/{task.name}"] = (self.target_sums[t] / n_steps).item()
        self.history.records.append(record)
        return mean_losses
