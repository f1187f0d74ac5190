"""Linear against softmax attention on associative recall: `python -m attnbook.experiments.linear_recall`.

Chapter 9c asks when linear attention is good enough. Zoology (Arora et al., ICLR 2024) found
that recall separates attention from its sub-quadratic replacements; this experiment repeats
the test at a laptop's scale. It trains `attnbook.efficient.CausalAttentionLM` with exact
softmax attention and with linear attention (φ = elu + 1), the same architecture otherwise, on
chapter 2b's multi-query associative recall task (`attnbook.data.recall`) at several numbers of
key-value pairs, over several seeds, and writes the held-out accuracies to a JSON file
(default src/attnbook/results/linear_recall.json).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from tqdm import tqdm

from attnbook.checks import require_positive_int
from attnbook.data.recall import make_mqar_batch, mqar_length
from attnbook.efficient import MIXERS, CausalAttentionLM
from attnbook.results import RESULTS_DIR
from attnbook.seeding import seed_everything, torch_generator
from attnbook.train import masked_accuracy, train_steps

__all__ = ["CONFIG", "DEFAULT_OUT", "main", "run_all", "run_recall"]

DEFAULT_OUT = RESULTS_DIR / "linear_recall.json"

# Chapter 2b's MQAR set-up (vocabulary 64, 8 queries, width 64, 2 layers, 1 head, 400 steps of
# 64 sequences, AdamW 3e-3), with the number of key-value pairs as the knob.
CONFIG: dict = {
    "vocab_size": 64,
    "num_queries": 8,
    "pairs": [2, 8],
    "d_model": 64,
    "num_layers": 2,
    "num_heads": 1,
    "steps": 400,
    "batch_size": 64,
    "lr": 3e-3,
    "eval_size": 1024,
    "mixers": list(MIXERS),
    "seeds": [0, 1, 2, 3, 4],
}


def run_recall(
    mixer: str, num_pairs: int, seed: int, cfg: dict = CONFIG, *, progress: bool = False
) -> tuple[CausalAttentionLM, float]:
    """Train a `mixer` model on MQAR with `num_pairs` pairs; return it and its held-out accuracy.

    Training batches come from seed + 1000, the held-out batch (touched once, at the end)
    from seed + 10 000, both through attnbook.seeding, as in chapter 2b.
    """
    require_positive_int("num_pairs", num_pairs)
    if mixer not in MIXERS:
        raise ValueError(f"unknown mixer {mixer!r}; known: {', '.join(MIXERS)}")
    seed_everything(seed)
    length = mqar_length(num_pairs, cfg["num_queries"])
    model = CausalAttentionLM(
        cfg["vocab_size"],
        length,
        d_model=cfg["d_model"],
        num_layers=cfg["num_layers"],
        num_heads=cfg["num_heads"],
        mixer=mixer,
    )

    def batch(size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return make_mqar_batch(
            size, num_pairs, cfg["num_queries"], cfg["vocab_size"], generator=generator
        )

    train_steps(
        model,
        lambda generator: batch(cfg["batch_size"], generator),
        steps=cfg["steps"],
        lr=cfg["lr"],
        seed=seed + 1000,
        progress=progress,
        description=f"MQAR {mixer} P={num_pairs}",
    )
    tokens, targets = batch(cfg["eval_size"], torch_generator(10_000 + seed))
    with torch.no_grad():
        accuracy = masked_accuracy(model(tokens), targets)
    return model, accuracy


def run_all(cfg: dict = CONFIG, *, progress: bool = True) -> dict:
    """Every (mixer, pairs, seed) of cfg: {'config', 'results': [{mixer, pairs, seed, accuracy}], 'seconds'}."""
    started = time.perf_counter()
    jobs = [(m, p, s) for p in cfg["pairs"] for m in cfg["mixers"] for s in cfg["seeds"]]
    results = []
    for mixer, pairs, seed in tqdm(jobs, desc="linear recall", disable=not progress):
        _, accuracy = run_recall(mixer, pairs, seed, cfg)
        results.append(
            {"mixer": mixer, "pairs": pairs, "seed": seed, "accuracy": round(accuracy, 4)}
        )
    return {
        "config": cfg,
        "results": results,
        "seconds": round(time.perf_counter() - started, 1),
        "torch": torch.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    """Parse argv (--out PATH, --no-progress), run the grid, write the JSON; return 0."""
    parser = argparse.ArgumentParser(
        prog="python -m attnbook.experiments.linear_recall", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    report = run_all(CONFIG, progress=not args.no_progress)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out} in {report['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
