"""Tests for attnbook.rl.envs (TargetPickEnv) and attnbook.models.set_policy."""

from __future__ import annotations

import pytest
import torch

from attnbook.models.set_policy import AttentionSetPolicy, FlatSetPolicy, SharedScorerSetPolicy
from attnbook.rl.envs import TargetPickEnv


def test_reset_shapes_and_targets() -> None:
    env = TargetPickEnv(8, 3, seed=0)
    obs = env.reset(50)
    assert obs.items.shape == (50, 8, env.item_dim) == (50, 8, 10)
    assert obs.cue.shape == (50, env.cue_dim) == (50, 8)
    assert obs.available.all()
    assert (env.targets.sum(1) == 3).all()
    colour = obs.items[..., :4].argmax(-1)
    shape = obs.items[..., 4:8].argmax(-1)
    match = (colour == obs.cue[:, :4].argmax(-1, keepdim=True)) & (
        shape == obs.cue[:, 4:].argmax(-1, keepdim=True)
    )
    assert torch.equal(match, env.targets)  # targets match both attributes, nothing else does


def test_distractors_share_one_attribute_often() -> None:
    env = TargetPickEnv(8, 2, seed=1)
    obs = env.reset(2000)
    colour_match = obs.items[..., :4].argmax(-1) == obs.cue[:, :4].argmax(-1, keepdim=True)
    distractors = ~env.targets
    share = colour_match[distractors].float().mean().item()
    assert 0.25 < share < 0.42  # one in three distractors keeps the cue's colour


def test_step_rewards_and_termination() -> None:
    env = TargetPickEnv(5, 2, seed=0)
    env.reset(4)
    picks = env.targets.float().argmax(1)
    obs, reward, done = env.step(picks)
    assert torch.equal(reward, torch.ones(4)) and not done
    assert not obs.available[torch.arange(4), picks].any()
    non_target = (~env.targets & obs.available).float().argmax(1)
    _, reward, done = env.step(non_target)
    assert torch.equal(reward, torch.zeros(4)) and done
    with pytest.raises(RuntimeError, match="over"):
        env.step(non_target)


def test_seeded_reset_is_reproducible() -> None:
    a, b = TargetPickEnv(seed=3).reset(7), TargetPickEnv(seed=3).reset(7)
    assert torch.equal(a.items, b.items) and torch.equal(a.cue, b.cue)


def test_policies_mask_and_shapes() -> None:
    env = TargetPickEnv(6, 2, seed=0)
    obs = env.reset(3)
    obs.available[:, 0] = False
    for policy in (
        AttentionSetPolicy(env.item_dim, env.cue_dim),
        FlatSetPolicy(6, env.item_dim, env.cue_dim),
    ):
        logits = policy(obs.items, obs.cue, obs.available)
        assert logits.shape == (3, 6)
        assert torch.softmax(logits, -1)[:, 0].max() == 0


def test_attention_policy_is_permutation_equivariant_and_size_free() -> None:
    torch.manual_seed(0)
    policy = AttentionSetPolicy(10, 8)
    env = TargetPickEnv(12, 2, seed=0)
    obs = env.reset(2)
    perm = torch.randperm(12)
    out = policy(obs.items, obs.cue, obs.available)
    out_perm = policy(obs.items[:, perm], obs.cue, obs.available[:, perm])
    torch.testing.assert_close(out[:, perm], out_perm)


@pytest.mark.parametrize("pooled", [False, True])
def test_shared_scorer_is_permutation_equivariant_and_size_free(pooled: bool) -> None:
    torch.manual_seed(0)
    policy = SharedScorerSetPolicy(10, 8, pooled=pooled)
    for n in (5, 9):
        obs = TargetPickEnv(n, 2, seed=1).reset(3)
        out = policy(obs.items, obs.cue, obs.available)
        assert out.shape == (3, n)
        perm = torch.randperm(n)
        out_perm = policy(obs.items[:, perm], obs.cue, obs.available[:, perm])
        torch.testing.assert_close(out[:, perm], out_perm)
    assert not any("query" in name for name, _ in policy.named_parameters())


_ENV = TargetPickEnv(4, 1, seed=0)
_OBS = _ENV.reset(2)
_ATT = AttentionSetPolicy(10, 8)
_FLAT = FlatSetPolicy(4, 10, 8)

BAD_INPUTS = [
    (TargetPickEnv, (4, 4), ValueError, "n_targets (4) must be smaller"),
    (TargetPickEnv, (0, 1), ValueError, "n_items must be >= 1"),
    (TargetPickEnv, (4, 1.5), TypeError, "n_targets must be an int"),
    (lambda: TargetPickEnv(4, 1, n_colors=1), (), ValueError, "need >= 2 colours"),
    (lambda: TargetPickEnv(4, 1, noise_dims=-1), (), ValueError, "noise_dims"),
    (lambda: TargetPickEnv(4, 1, seed=-2), (), ValueError, "seed"),
    (_ENV.reset, (0,), ValueError, "batch_size must be >= 1"),
    (lambda: TargetPickEnv().step(torch.zeros(1, dtype=torch.long)), (), RuntimeError, "reset"),
    (lambda: TargetPickEnv().targets, (), RuntimeError, "reset"),
    (_ENV.step, (torch.zeros(2),), TypeError, "int64"),
    (_ENV.step, (torch.zeros(3, dtype=torch.long),), ValueError, "shape (2,)"),
    (_ENV.step, (torch.tensor([0, 4]),), ValueError, "0..3"),
    (_ATT, (_OBS.items[..., :5], _OBS.cue, _OBS.available), ValueError, "items must have shape"),
    (_ATT, (_OBS.items, _OBS.cue[:1], _OBS.available), ValueError, "cue must have shape"),
    (_ATT, (_OBS.items, _OBS.cue, _OBS.available.float()), TypeError, "bool"),
    (_ATT, (_OBS.items, _OBS.cue, _OBS.available[:, :2]), ValueError, "available must have"),
    (_ATT, (_OBS.items, _OBS.cue, torch.zeros(2, 4, dtype=torch.bool)), ValueError, "at least one"),
    (_ATT, (_OBS.items.long(), _OBS.cue, _OBS.available), TypeError, "floating-point"),
    (AttentionSetPolicy, (0, 8), ValueError, "item_dim"),
    (FlatSetPolicy, (4, 10, 8, 0), ValueError, "hidden"),
    (SharedScorerSetPolicy, (10, 8, 0), ValueError, "hidden"),
    (lambda: SharedScorerSetPolicy(10, 8, pooled=1), (), TypeError, "pooled must be a bool"),
    (
        SharedScorerSetPolicy(10, 8),
        (_OBS.items[..., :5], _OBS.cue, _OBS.available),
        ValueError,
        "items must have shape",
    ),
    (
        _FLAT,
        (torch.zeros(2, 5, 10), _OBS.cue, torch.ones(2, 5, dtype=torch.bool)),
        ValueError,
        "built for 4 objects",
    ),
]


@pytest.mark.parametrize(("func", "args", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(func, args, error, fragment) -> None:
    with pytest.raises(error, match=__import__("re").escape(fragment)):
        func(*args)
