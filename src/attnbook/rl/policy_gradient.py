"""REINFORCE (Williams, 1992) for batched episodic environments such as `attnbook.rl.envs.TargetPickEnv`.

For each iteration a batch of episodes is played with actions sampled from the policy; the loss
is −Σ_t log π(a_t | s_t) · (G_t − b_t), where G_t is the reward-to-go from step t and the
baseline b_t is the batch mean of G_t (it lowers the variance and leaves the gradient unbiased
up to a term that vanishes as the batch grows).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm import tqdm

from attnbook.checks import require_positive, require_positive_int
from attnbook.rl.envs import TargetPickEnv

__all__ = ["RLHistory", "evaluate_policy", "play", "reinforce"]


@dataclass
class RLHistory:
    """Per-iteration mean return of the sampled training episodes (a list of floats)."""

    mean_return: list[float] = field(default_factory=list)

    def smoothed(self, window: int = 10) -> list[float]:
        """Running mean of mean_return over the last `window` iterations (same length)."""
        require_positive_int("window", window)
        values = torch.tensor(self.mean_return, dtype=torch.float64)
        if len(values) == 0:
            return []
        cumulative = torch.cat([torch.zeros(1, dtype=torch.float64), values.cumsum(0)])
        index = torch.arange(1, len(values) + 1)
        start = (index - window).clamp_min(0)
        return ((cumulative[index] - cumulative[start]) / (index - start)).tolist()


def _check(policy: object, env: object) -> None:
    if not isinstance(policy, nn.Module):
        raise TypeError(f"policy must be a torch.nn.Module, got {type(policy).__name__}")
    if not isinstance(env, TargetPickEnv):
        raise TypeError(f"env must be a TargetPickEnv, got {type(env).__name__}")


def play(
    policy: nn.Module, env: TargetPickEnv, batch_size: int, *, greedy: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Play batch_size episodes: log-probabilities (B, T) of the actions taken and rewards (B, T)."""
    _check(policy, env)
    obs = env.reset(batch_size)
    log_probs, rewards = [], []
    done = False
    while not done:
        logits = policy(obs.items, obs.cue, obs.available)
        dist = torch.distributions.Categorical(logits=logits)
        if greedy:
            action = logits.argmax(dim=-1)
        else:
            action = torch.multinomial(dist.probs, 1, generator=env.generator).squeeze(-1)
        log_probs.append(dist.log_prob(action))
        obs, reward, done = env.step(action)
        rewards.append(reward)
    return torch.stack(log_probs, dim=1), torch.stack(rewards, dim=1)


def reinforce(
    policy: nn.Module,
    env: TargetPickEnv,
    *,
    iterations: int,
    batch_size: int = 64,
    lr: float = 1e-2,
    progress: bool = True,
    description: str = "REINFORCE",
) -> RLHistory:
    """Train policy on env with REINFORCE and a batch-mean baseline; return the per-iteration mean return."""
    _check(policy, env)
    require_positive_int("iterations", iterations)
    require_positive_int("batch_size", batch_size)
    require_positive("lr", lr)
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    history = RLHistory()
    policy.train()
    bar = tqdm(range(iterations), desc=description, disable=not progress, leave=False)
    for _ in bar:
        log_probs, rewards = play(policy, env, batch_size)
        to_go = rewards.flip(1).cumsum(1).flip(1)
        advantage = to_go - to_go.mean(dim=0, keepdim=True)
        loss = -(log_probs * advantage).sum(dim=1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.mean_return.append(rewards.sum(dim=1).mean().item())
        bar.set_postfix(mean_return=f"{history.mean_return[-1]:.2f}")
    policy.eval()
    return history


@torch.no_grad()
def evaluate_policy(
    policy: nn.Module, env: TargetPickEnv, episodes: int = 1000, *, greedy: bool = True
) -> float:
    """Mean return of policy over `episodes` fresh episodes of env (greedy actions by default)."""
    _check(policy, env)
    require_positive_int("episodes", episodes)
    _, rewards = play(policy, env, episodes, greedy=greedy)
    return rewards.sum(dim=1).mean().item()
