"""Chapter 9b's reinforcement learning: a set-valued environment and the REINFORCE loop.

`attnbook.rl.envs` holds TargetPickEnv; `attnbook.rl.policy_gradient` holds REINFORCE with a
batch-mean baseline. The policies that attend (or do not) over the set are models, in
`attnbook.models.set_policy`. Both modules' public names are importable from here.
"""

from attnbook.rl.envs import Observation, TargetPickEnv
from attnbook.rl.policy_gradient import RLHistory, evaluate_policy, play, reinforce

__all__ = ["Observation", "RLHistory", "TargetPickEnv", "evaluate_policy", "play", "reinforce"]
