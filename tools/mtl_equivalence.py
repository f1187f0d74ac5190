"""Refactor check for attnbook.mtl.train_multitask: is the new code bit-identical to the old?

    python tools/mtl_equivalence.py save before.pt     # on the old code
    python tools/mtl_equivalence.py save after.pt      # on the new code, same machine
    python tools/mtl_equivalence.py compare before.pt after.pt

Every weighting (and a static one) on both architectures, three short epochs each: the records,
PCGrad's conflict counts and every parameter must be equal (torch.equal). When they are, the
change does not change what the chapter 9a grid computes, and mtl.json may be restamped with the
new code fingerprint instead of re-running the 64-minute grid (say so in the commit message).
"""

from __future__ import annotations

import sys

import torch

from attnbook.experiments import equivalence
from attnbook.experiments import mtl as grid
from attnbook.models.multitask import HardSharingNet, MTANNet
from attnbook.mtl import WEIGHTINGS, train_multitask
from attnbook.train import seed_everything

TASK_NAMES = ("left", "right", "ink")


def runs() -> dict[tuple[str, str], tuple]:
    """(arch, weighting) -> (records, conflicts, pairs, parameters) of a short seeded run."""
    torch.set_num_threads(1)
    train, _, _, heads = grid.load_task_data()
    x, ys = train["x"][:512], [train[n][:512] for n in TASK_NAMES]
    tasks = [grid.TASKS[n] for n in TASK_NAMES]
    out = {}
    for arch, make in (("hard", HardSharingNet), ("mtan", MTANNet)):
        for weighting in (*WEIGHTINGS, "static"):
            seed_everything(3)
            net = make([heads[n] for n in TASK_NAMES])
            if weighting == "static":
                how = {"weighting": "equal", "static_weights": [1.0, 2.0, 0.5]}
            else:
                how = {"weighting": weighting}
            history = train_multitask(
                net, x, ys, tasks, epochs=3, batch_size=64, seed=5, progress=False, **how
            )
            params = [p.detach().clone() for p in net.parameters()]
            out[(arch, weighting)] = (history.records, history.conflicts, history.pairs, params)
    return out


if __name__ == "__main__":
    sys.exit(equivalence.main(sys.argv[1:], runs, __doc__))
