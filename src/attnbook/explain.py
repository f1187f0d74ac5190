"""Explanations of attention models and tests of whether attention weights explain anything.

* :func:`attention_rollout` (Abnar & Zuidema, 2020): follow information through the layers by
  multiplying each layer's head-averaged attention, mixed with the identity for the residual
  path, ``Â_l = ½ A_l + ½ I`` (rows renormalised), ``R = Â_L ⋯ Â_1``.
* :func:`gradient_times_input` and :func:`occlusion_importance`: two attention-free importance
  scores per token, to compare attention with.
* :func:`permute_attention`, :func:`adversarial_attention`, :func:`total_variation`,
  :func:`jensen_shannon`: the tests of Jain & Wallace (2019): change the weights, keep the rest
  of the model, and measure how much the output moves.
* :func:`kendall_tau`: rank agreement of two importance scores over the valid positions;
  :func:`top_k_mask` restricts it to the positions that either score ranks highest.
* :func:`relevance_auc`: how well one score ranks the positions known to matter above the
  others (the area under the ROC curve, per row).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from attnbook.checks import require_float_tensor, require_positive, require_positive_int

__all__ = [
    "adversarial_attention",
    "attention_rollout",
    "gradient_times_input",
    "jensen_shannon",
    "kendall_tau",
    "occlusion_importance",
    "permute_attention",
    "relevance_auc",
    "top_k_mask",
    "total_variation",
]


def attention_rollout(attentions: Sequence[torch.Tensor], residual: float = 0.5) -> torch.Tensor:
    """Rollout (B, n, n) of per-layer weights [(B, heads, n, n) or (B, n, n)], first layer first.

    Heads are averaged; each layer becomes ``(1 - residual) A + residual I`` with rows renormalised;
    the result is the product of the last layer's matrix down to the first's.
    """
    if isinstance(attentions, torch.Tensor) or not isinstance(attentions, Sequence):
        raise TypeError("attentions must be a list of tensors, one per layer")
    if len(attentions) == 0:
        raise ValueError("attentions must hold at least one layer")
    if isinstance(residual, bool) or not isinstance(residual, (int, float)):
        raise TypeError(f"residual must be a number, got {type(residual).__name__}")
    if not 0.0 <= residual <= 1.0:
        raise ValueError(f"residual must lie in [0, 1], got {residual}")
    layers = []
    for index, weights in enumerate(attentions):
        require_float_tensor(f"attentions[{index}]", weights)
        if weights.dim() == 4:
            weights = weights.mean(dim=1)
        if weights.dim() != 3 or weights.shape[-1] != weights.shape[-2]:
            raise ValueError(
                f"attentions[{index}] must have shape (B, heads, n, n) or (B, n, n), "
                f"got {tuple(attentions[index].shape)}"
            )
        if layers and weights.shape != layers[0].shape:
            raise ValueError(
                f"all layers must share one shape, got {tuple(layers[0].shape)} and "
                f"{tuple(weights.shape)} at layer {index}"
            )
        layers.append(weights)
    eye = torch.eye(layers[0].shape[-1], dtype=layers[0].dtype, device=layers[0].device)
    rollout = eye.expand_as(layers[0])
    for weights in layers:
        mixed = (1.0 - residual) * weights + residual * eye
        mixed = mixed / mixed.sum(dim=-1, keepdim=True).clamp_min(1e-12)
        rollout = mixed @ rollout
    return rollout


def _check_weights_mask(weights: torch.Tensor, mask: torch.Tensor) -> None:
    """Validate weights (B, L) float against mask (B, L) bool."""
    require_float_tensor("weights", weights)
    if weights.dim() != 2:
        raise ValueError(f"weights must have shape (B, L), got {tuple(weights.shape)}")
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError("mask must be a bool tensor (B, L)")
    if mask.shape != weights.shape:
        raise ValueError(
            f"mask {tuple(mask.shape)} must have the shape of weights {tuple(weights.shape)}"
        )


def permute_attention(
    weights: torch.Tensor, mask: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Shuffle each row of weights (B, L) among its valid positions (mask (B, L) True) -> (B, L)."""
    _check_weights_mask(weights, mask)
    noise_device = weights.device if generator is None else generator.device
    noise = torch.rand(weights.shape, generator=generator, device=noise_device).to(weights.device)
    # valid positions get random keys in [0, 1), padding keys of 2 keep it at the end
    order = torch.where(mask, noise, torch.full_like(noise, 2.0)).argsort(dim=1)
    valid_sorted = mask.float().argsort(dim=1, descending=True, stable=True)
    result = torch.zeros_like(weights)
    source = weights.gather(1, order)
    result.scatter_(1, valid_sorted, source)
    return result * mask


def total_variation(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Total variation distance ½ Σ|p − q| between distributions p, q (..., C) -> (...)."""
    require_float_tensor("p", p)
    require_float_tensor("q", q)
    if p.shape != q.shape:
        raise ValueError(
            f"p and q must have the same shape, got {tuple(p.shape)} and {tuple(q.shape)}"
        )
    return 0.5 * (p - q).abs().sum(dim=-1)


def jensen_shannon(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Jensen–Shannon divergence in nats (at most ln 2) of distributions p, q (..., C) -> (...)."""
    require_float_tensor("p", p)
    require_float_tensor("q", q)
    if p.shape != q.shape:
        raise ValueError(
            f"p and q must have the same shape, got {tuple(p.shape)} and {tuple(q.shape)}"
        )
    m = 0.5 * (p + q)

    def kl(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.where(
            a > 0, a * (a.clamp_min(1e-30).log() - b.clamp_min(1e-30).log()), 0.0
        ).sum(-1)

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def adversarial_attention(
    predict: Callable[[torch.Tensor], torch.Tensor],
    weights: torch.Tensor,
    mask: torch.Tensor,
    *,
    tolerance: float = 0.02,
    steps: int = 200,
    lr: float = 0.3,
    penalty: float = 10.0,
) -> torch.Tensor:
    """Weights (B, L) as far (JSD) from `weights` as possible while predict(new) stays within TVD tolerance.

    `predict` maps weights (B, L) to class probabilities (B, C) with the rest of the model fixed.
    Maximises JSD(new, old) − penalty · max(0, TVD(out(new), out(old)) − tolerance) by Adam on
    the logits of the new weights, then keeps, per row, the last iterate that met the tolerance
    (or the original weights if none did).
    """
    _check_weights_mask(weights, mask)
    if not callable(predict):
        raise TypeError("predict must be callable: weights (B, L) -> probabilities (B, C)")
    require_positive("tolerance", tolerance)
    require_positive_int("steps", steps)
    require_positive("lr", lr)
    require_positive("penalty", penalty)
    weights = weights.detach()
    with torch.no_grad():
        reference = predict(weights)
    logits = (weights.clamp_min(1e-6).log() + 0.5 * torch.randn_like(weights)).requires_grad_()
    optimizer = torch.optim.Adam([logits], lr=lr)
    best = weights.clone()
    best_jsd = weights.new_zeros(weights.shape[0])
    for _ in range(steps):
        new = torch.softmax(logits.masked_fill(~mask, -1e9), dim=-1)
        outputs = predict(new)
        distance = total_variation(outputs, reference)
        divergence = jensen_shannon(new, weights)
        with torch.no_grad():
            ok = (distance <= tolerance) & (divergence > best_jsd)
            best[ok] = new[ok].detach()
            best_jsd[ok] = divergence[ok].detach()
        loss = (-divergence + penalty * (distance - tolerance).clamp_min(0.0)).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return best


def gradient_times_input(
    forward: Callable[[torch.Tensor], torch.Tensor],
    embeddings: torch.Tensor,
    targets: torch.Tensor,
) -> torch.Tensor:
    """|Σ_d ∂logit_target/∂e · e| per token (B, L) for embeddings (B, L, d) and targets (B,).

    `forward` maps embeddings (B, L, d) to logits (B, C).
    """
    if not callable(forward):
        raise TypeError("forward must be callable: embeddings (B, L, d) -> logits (B, C)")
    require_float_tensor("embeddings", embeddings)
    if embeddings.dim() != 3:
        raise ValueError(f"embeddings must have shape (B, L, d), got {tuple(embeddings.shape)}")
    if not isinstance(targets, torch.Tensor) or targets.dtype != torch.int64:
        raise TypeError("targets must be an int64 tensor (B,)")
    if targets.shape != embeddings.shape[:1]:
        raise ValueError(
            f"targets must have shape ({embeddings.shape[0]},), got {tuple(targets.shape)}"
        )
    embeddings = embeddings.detach().requires_grad_()
    logits = forward(embeddings)
    chosen = logits.gather(1, targets[:, None]).sum()
    (grad,) = torch.autograd.grad(chosen, embeddings)
    return (grad * embeddings).sum(-1).abs().detach()


@torch.no_grad()
def occlusion_importance(
    predict: Callable[[torch.Tensor], torch.Tensor],
    tokens: torch.Tensor,
    targets: torch.Tensor,
    replacement: int,
) -> torch.Tensor:
    """Drop in the target's probability (B, L) when each token of tokens (B, L) is replaced.

    `predict` maps tokens (B, L) to probabilities (B, C); padding (id 0) positions get 0.
    """
    if not callable(predict):
        raise TypeError("predict must be callable: tokens (B, L) -> probabilities (B, C)")
    if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.int64 or tokens.dim() != 2:
        raise TypeError("tokens must be a 2-D int64 tensor (B, L)")
    if not isinstance(targets, torch.Tensor) or targets.dtype != torch.int64:
        raise TypeError("targets must be an int64 tensor (B,)")
    if targets.shape != tokens.shape[:1]:
        raise ValueError(
            f"targets must have shape ({tokens.shape[0]},), got {tuple(targets.shape)}"
        )
    if isinstance(replacement, bool) or not isinstance(replacement, int) or replacement < 0:
        raise ValueError(f"replacement must be a token id >= 0, got {replacement!r}")
    base = predict(tokens).gather(1, targets[:, None])[:, 0]
    drops = torch.zeros(tokens.shape, device=tokens.device)
    for position in range(tokens.shape[1]):
        changed = tokens.clone()
        changed[:, position] = replacement
        drops[:, position] = base - predict(changed).gather(1, targets[:, None])[:, 0]
    return drops * (tokens != 0)


def kendall_tau(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Kendall's τ-a between rows of scores a, b (B, L) over positions where mask (B, L) -> (B,)."""
    require_float_tensor("a", a)
    require_float_tensor("b", b)
    if a.dim() != 2 or a.shape != b.shape:
        raise ValueError(
            f"a and b must share one shape (B, L), got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if mask is None:
        mask = torch.ones(a.shape, dtype=torch.bool, device=a.device)
    elif not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.shape != a.shape:
        raise ValueError(f"mask must be a bool tensor of shape {tuple(a.shape)}")
    concordance = torch.sign(a[:, :, None] - a[:, None, :]) * torch.sign(
        b[:, :, None] - b[:, None, :]
    )
    pairs = mask[:, :, None] & mask[:, None, :]
    pairs = pairs & torch.ones_like(pairs).triu(diagonal=1)
    count = pairs.sum(dim=(1, 2))
    if bool((count == 0).any()):
        raise ValueError("every row needs at least two valid positions")
    return (concordance * pairs).sum(dim=(1, 2)) / count


def top_k_mask(score: torch.Tensor, k: int) -> torch.Tensor:
    """Bool mask (B, L), True at the k highest entries of each row of score (B, L)."""
    require_float_tensor("score", score)
    require_positive_int("k", k)
    if score.dim() != 2:
        raise ValueError(f"score must have shape (B, L), got {tuple(score.shape)}")
    if k > score.shape[1]:
        raise ValueError(f"k must be at most L = {score.shape[1]}, got {k}")
    mask = torch.zeros(score.shape, dtype=torch.bool, device=score.device)
    return mask.scatter(1, score.topk(k, dim=1).indices, True)


def relevance_auc(score: torch.Tensor, relevant: torch.Tensor) -> torch.Tensor:
    """Per-row AUC (B,): P(score at a relevant position > at an irrelevant one), ties count ½.

    score (B, L) float, relevant (B, L) bool with at least one True and one False per row. 1 means
    every relevant position outranks every other, 0.5 is a random order.
    """
    _check_weights_mask(score, relevant)
    n_relevant = relevant.sum(dim=1)
    if bool((n_relevant == 0).any()) or bool((n_relevant == score.shape[1]).any()):
        raise ValueError("every row of relevant needs at least one True and one False")
    difference = score[:, :, None] - score[:, None, :]  # (B, relevant i, other j)
    wins = (difference > 0).float() + 0.5 * (difference == 0).float()
    pairs = relevant[:, :, None] & ~relevant[:, None, :]
    return (wins * pairs).sum(dim=(1, 2)) / pairs.sum(dim=(1, 2))
