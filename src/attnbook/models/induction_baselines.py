"""Rule-based predictors for in-context tasks: what a perfect circuit of a given kind would score.

Chapter 2b compares its trained models with them, so that a ceiling or a floor is a measured
number and not a guess:

* `longest_context_oracle`: copy what followed the earlier position whose preceding context
  matches the current one for the longest stretch (an n-gram lookup with unbounded n);
* `one_token_induction`: copy what followed an earlier occurrence of the current token, by
  majority over all of them (what an induction head that keys on the previous token alone can do);
* `most_frequent_in_context`: the token seen most often so far among `candidates` (what a model
  that cannot compose lookups can still do: a bag of tokens, no order);
* `offset_copy`: the token a fixed number of positions back (a lookup by position alone);
* `seen_token_guess_accuracy`: the expected accuracy of a uniform guess among the distinct
  tokens seen so far.

Each returns next-token predictions (B, T) int64, -1 where it has nothing to go on; ties go to
the most recent position.
"""

from __future__ import annotations

import torch

from attnbook.checks import require_token_ids

__all__ = [
    "earlier_occurrences",
    "longest_context_oracle",
    "most_frequent_in_context",
    "offset_copy",
    "one_token_induction",
    "prediction_accuracy",
    "seen_token_guess_accuracy",
]


def _check_tokens(tokens: torch.Tensor) -> None:
    """Raise unless tokens is an int64 (B, T) tensor of non-negative ids."""
    require_token_ids("tokens", tokens)


def _earlier_same(tokens: torch.Tensor) -> torch.Tensor:
    """Bool (B, T, T): [b, t, j] is True when j < t and tokens[b, j] == tokens[b, t]."""
    same = tokens[:, :, None] == tokens[:, None, :]
    return same & torch.ones_like(same[0]).tril(-1)


def earlier_occurrences(tokens: torch.Tensor) -> torch.Tensor:
    """How often each position's token occurred before it: tokens (B, T) -> counts (B, T) int64."""
    _check_tokens(tokens)
    return _earlier_same(tokens).sum(dim=-1)


def _copy_from(tokens: torch.Tensor, score: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """tokens[j + 1] for the allowed j with the highest score (ties: largest j); -1 if none."""
    length = tokens.shape[1]
    position = torch.arange(length, device=tokens.device)
    ranked = torch.where(allowed, score * (length + 1) + position, torch.full_like(score, -1))
    best = ranked.argmax(dim=-1)  # (B, T)
    follower = tokens.gather(1, (best + 1).clamp(max=length - 1))
    return torch.where(allowed.any(dim=-1), follower, torch.full_like(follower, -1))


def longest_context_oracle(tokens: torch.Tensor) -> torch.Tensor:
    """Predict tokens[j + 1] for the earlier j whose context matches position t's the longest: (B, T).

    match[t, j] = how many tokens ending at j equal those ending at t (0 if tokens differ); j < t.
    """
    _check_tokens(tokens)
    same = _earlier_same(tokens)
    match = same.long()
    run = same
    while bool(run.any()):
        # after k rounds, run[t, j]: the k + 1 tokens ending at t and at j agree
        run = run & torch.nn.functional.pad(run[:, :-1, :-1], (1, 0, 1, 0))
        match = match + run.long()
    return _copy_from(tokens, match, match > 0)


def one_token_induction(tokens: torch.Tensor) -> torch.Tensor:
    """Predict the most common token that followed an earlier copy of the current token: (B, T)."""
    _check_tokens(tokens)
    earlier = _earlier_same(tokens)
    follower = tokens.roll(-1, dims=1)  # follower[j] = tokens[j + 1] (j < t <= T - 1, so valid)
    same_follower = follower[:, :, None] == follower[:, None, :]  # (B, j, j')
    # votes[b, t, j] = how many earlier copies of tokens[t] were followed by the token after j
    votes = (earlier.float() @ same_follower.float().transpose(1, 2)).round().long()
    return _copy_from(tokens, votes, earlier)


def most_frequent_in_context(tokens: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """Predict the candidate token seen most often at positions <= t (ties: most recent): (B, T).

    candidates is a bool (V,) mask over the vocabulary; -1 where no candidate has been seen.
    """
    _check_tokens(tokens)
    if not isinstance(candidates, torch.Tensor) or candidates.dtype != torch.bool:
        raise TypeError("candidates must be a bool tensor (V,) over the vocabulary")
    if candidates.dim() != 1 or (tokens.numel() and int(tokens.max()) >= candidates.numel()):
        raise ValueError(
            f"candidates must be (V,) with V > every token id, got {tuple(candidates.shape)}"
        )
    length = tokens.shape[1]
    same = tokens[:, :, None] == tokens[:, None, :]  # (B, j, j')
    upto = torch.ones(length, length, dtype=torch.bool, device=tokens.device).tril()  # j' <= t
    # count[b, t, j] = occurrences of tokens[j] at positions <= t
    count = (upto.float() @ same.float().transpose(1, 2)).round().long()
    allowed = upto[None] & candidates[tokens][:, None, :]
    length_plus = length + 1
    ranked = torch.where(
        allowed, count * length_plus + torch.arange(length, device=tokens.device), -1
    )
    best = ranked.argmax(dim=-1)
    guess = tokens.gather(1, best)
    return torch.where(allowed.any(dim=-1), guess, torch.full_like(guess, -1))


def offset_copy(tokens: torch.Tensor, offset: int) -> torch.Tensor:
    """Predict tokens[t - offset] at every position t: (B, T), -1 for t < offset."""
    _check_tokens(tokens)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 1:
        raise ValueError(f"offset must be a positive int, got {offset!r}")
    shifted = torch.full_like(tokens, -1)
    shifted[:, offset:] = tokens[:, : tokens.shape[1] - offset]
    return shifted


def seen_token_guess_accuracy(tokens: torch.Tensor, targets: torch.Tensor) -> float:
    """Expected accuracy at scored positions (targets != -100) of a uniform guess among the
    distinct tokens at positions <= t; tokens and targets (B, T)."""
    _check_tokens(tokens)
    if targets.shape != tokens.shape:
        raise ValueError(
            f"tokens and targets must have one shape, got {tuple(tokens.shape)} and "
            f"{tuple(targets.shape)}"
        )
    scored = targets != -100
    if not bool(scored.any()):
        raise ValueError("no scored position")
    length = tokens.shape[1]
    same = tokens[:, :, None] == tokens[:, None, :]  # (B, j, j')
    first = ~(
        same & torch.ones(length, length, dtype=torch.bool, device=tokens.device).tril(-1)
    ).any(-1)  # new at j
    upto = torch.ones(length, length, dtype=torch.bool, device=tokens.device).tril()
    distinct = (first[:, None, :] & upto).sum(-1)  # (B, T): distinct tokens at positions <= t
    hit = ((tokens[:, None, :] == targets[:, :, None]) & upto).any(-1)  # target already seen
    return (hit.float() / distinct.float())[scored].mean().item()


def prediction_accuracy(
    predictions: torch.Tensor, targets: torch.Tensor, where: torch.Tensor | None = None
) -> float:
    """Share of scored positions (targets != -100, and `where` if given) with predictions == targets."""
    if predictions.shape != targets.shape:
        raise ValueError(
            f"predictions and targets must have one shape, got {tuple(predictions.shape)} and "
            f"{tuple(targets.shape)}"
        )
    scored = targets != -100
    if where is not None:
        if where.shape != targets.shape or where.dtype != torch.bool:
            raise ValueError("where must be a bool tensor shaped like targets")
        scored = scored & where
    if not bool(scored.any()):
        raise ValueError("no scored position")
    return (predictions[scored] == targets[scored]).float().mean().item()
