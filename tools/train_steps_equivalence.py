"""Refactor check for the step-based training loops: is the new code bit-identical to the old?

    python tools/train_steps_equivalence.py save before.pt     # on the old code
    python tools/train_steps_equivalence.py save after.pt      # on the new code, same machine
    python tools/train_steps_equivalence.py compare before.pt after.pt

Short runs of every experiment that trains step by step on fresh batches (chapter 2b's
induction, reach and MQAR grids, 9e's key/value heads, 9c's linear recall, 5b's warm-up loop)
chapter 6's article loop and chapter 7a's epoch loop (train_seq2seq): every loss and every parameter must be equal (torch.equal).
When they are, the refactor does not change what the committed grids computed, and their JSON
may be restamped with the new code fingerprint instead of being re-run (say so in the commit).
"""

from __future__ import annotations

import copy
import sys

import torch

from attnbook.article import ArticleAttentionModel, train_article_model
from attnbook.data.dates import make_date_train_val_test
from attnbook.experiments import depth_breadth, equivalence, kv_heads, linear_recall
from attnbook.experiments import transformer as transformer_grid
from attnbook.models.seq2seq import Seq2Seq, exact_match, train_seq2seq
from attnbook.models.transformer import TokenTransformer
from attnbook.train import seed_everything


def _short(cfg: dict, steps: int = 25) -> dict:
    """A copy of an experiment's configuration with few steps and a small evaluation."""
    cfg = copy.deepcopy(cfg)
    cfg["steps"], cfg["eval_size"] = steps, 64
    return cfg


def runs() -> dict[str, tuple]:
    """name -> (losses or score, parameters) of a short seeded run of each loop."""
    torch.set_num_threads(1)
    grids = depth_breadth.CONFIG
    out: dict[str, tuple] = {}
    model, acc = depth_breadth.run_induction(2, 1, _short(grids["induction"]), progress=False)
    out["induction"] = (acc, model.state_dict())
    model, hits = depth_breadth.run_reach(2, 3, 1, _short(grids["reach"]), progress=False)
    out["reach"] = (hits, model.state_dict())
    model, acc = depth_breadth.run_mqar(2, 1, _short(grids["mqar"]), progress=False)
    out["mqar"] = (acc, model.state_dict())
    model, row = kv_heads.run_kv_heads(2, 1, _short(kv_heads.CONFIG), progress=False)
    out["kv_heads"] = (row, model.state_dict())
    for mixer in linear_recall.CONFIG["mixers"]:
        model, acc = linear_recall.run_recall(mixer, 2, 1, _short(linear_recall.CONFIG))
        out[f"recall {mixer}"] = (acc, model.state_dict())
    torch.manual_seed(1)
    model = TokenTransformer(6, 6, d_model=16, n_heads=2, n_layers=1, max_len=8, causal=True)
    losses = transformer_grid.train_steps(
        model,
        lambda g: transformer_grid.previous_token_batch(32, 8, 6, g),
        steps=30,
        lr=1e-2,
        warmup_steps=10,
        record_every=3,
        progress=False,
    )
    out["warm-up"] = (losses, model.state_dict())
    seed_everything(1)
    model = ArticleAttentionModel()
    out["article"] = (train_article_model(model, 30, progress=False), model.state_dict())
    out["seq2seq"] = _seq2seq_run()
    return out


def _seq2seq_run() -> tuple:
    """Chapter 7a's epoch loop: two epochs on 300 date pairs, validation scored after each."""
    train, val, _, source_vocab, target_vocab = make_date_train_val_test(300, 100, 10, seed=0)
    seed_everything(2)
    model = Seq2Seq(len(source_vocab), len(target_vocab), 16, 24, attention=True)
    curve: list[float] = []

    def score(epoch: int) -> None:
        curve.append(
            exact_match(model.greedy_decode(val.sources, val.lengths, steps=10)[0], val.targets)
        )

    losses = train_seq2seq(
        model,
        train.sources,
        train.lengths,
        train.targets,
        epochs=2,
        batch_size=64,
        lr=5e-3,
        seed=3,
        progress=False,
        on_epoch_end=score,
    )
    return (losses, curve, model.state_dict())


if __name__ == "__main__":
    sys.exit(equivalence.main(sys.argv[1:], runs, __doc__))
