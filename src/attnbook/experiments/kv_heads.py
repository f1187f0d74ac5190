"""What fewer key/value heads cost: TinyGPT with n_kv_heads = 4 (MHA), 2 (GQA), 1 (MQA) on MQAR.

`python -m attnbook.experiments kv-heads` trains one TinyGPT per (n_kv_heads, seed) on
multi-query associative recall (:func:`attnbook.data.recall.make_mqar_batch`: key-value pairs,
then queries whose answer is the value stored with the key), a task that lives on attention's
lookups, for a fixed number of steps (no early stopping, nothing selected), and scores each model
once on a held-out batch. Chapter 9e plots the JSON (default src/attnbook/results/kv_heads.json)
and re-runs one seed live; the JSON records CONFIG and a fingerprint of the code that ran.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from attnbook.data.recall import make_mqar_batch, mqar_length
from attnbook.experiments import fingerprint
from attnbook.models.gpt import TinyGPT
from attnbook.results import RESULTS_DIR
from attnbook.seeding import seed_everything, torch_generator
from attnbook.train import masked_accuracy, train_steps

__all__ = [
    "CONFIG",
    "DEFAULT_OUT",
    "FINGERPRINTED_MODULES",
    "code_fingerprint",
    "main",
    "run_all",
    "run_kv_heads",
]

DEFAULT_OUT = RESULTS_DIR / "kv_heads.json"

CONFIG: dict[str, Any] = {
    "vocab_size": 64,
    "num_pairs": 8,
    "num_queries": 8,
    "d_model": 64,
    "n_heads": 4,
    "n_layers": 2,
    "kv_heads": [4, 2, 1],
    "steps": 300,
    "batch_size": 64,
    "lr": 3e-3,
    "eval_size": 1024,
    "seeds": [0, 1, 2, 3, 4],
}

FINGERPRINTED_MODULES: tuple[str, ...] = (
    "attnbook.models.gpt",
    "attnbook.models.transformer",
    "attnbook.data.recall",
)


def code_fingerprint() -> str:
    """16 hex digits of the code that decides this experiment's numbers (see fingerprint)."""
    parts = (run_kv_heads, run_all, train_steps, masked_accuracy, *FINGERPRINTED_MODULES)
    return fingerprint.code_fingerprint(parts)


def run_kv_heads(
    n_kv_heads: int, seed: int, cfg: dict[str, Any] = CONFIG, *, progress: bool = True
) -> tuple[TinyGPT, dict[str, Any]]:
    """Train one TinyGPT with n_kv_heads on MQAR; return it and its held-out accuracy and size."""
    seed_everything(seed)
    length = mqar_length(cfg["num_pairs"], cfg["num_queries"])
    model = TinyGPT(
        cfg["vocab_size"],
        cfg["d_model"],
        cfg["n_heads"],
        cfg["n_layers"],
        n_kv_heads=n_kv_heads,
        max_len=length,
    )

    def batch(size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return make_mqar_batch(
            size, cfg["num_pairs"], cfg["num_queries"], cfg["vocab_size"], generator=generator
        )

    losses = train_steps(
        model,
        lambda generator: batch(cfg["batch_size"], generator),
        steps=cfg["steps"],
        lr=cfg["lr"],
        seed=seed + 1000,
        progress=progress,
        description=f"MQAR n_kv_heads={n_kv_heads}",
    )
    model.eval()
    tokens, targets = batch(cfg["eval_size"], torch_generator(10_000 + seed))
    with torch.no_grad():
        accuracy = masked_accuracy(model(tokens), targets)
    return model, {
        "n_kv_heads": n_kv_heads,
        "seed": seed,
        "accuracy": accuracy,
        "final_loss": sum(losses[-20:]) / len(losses[-20:]),
        "parameters": sum(p.numel() for p in model.parameters()),
        "cache_bytes_per_token": model.kv_cache_bytes(1, 1),
    }


def run_all(cfg: dict[str, Any] = CONFIG, *, progress: bool = True) -> dict[str, Any]:
    """Every (n_kv_heads, seed) cell of cfg -> a JSON-ready report."""
    started = time.perf_counter()
    rows = [
        run_kv_heads(n_kv, seed, cfg, progress=progress)[1]
        for n_kv in cfg["kv_heads"]
        for seed in cfg["seeds"]
    ]
    return {
        "config": cfg,
        "code": code_fingerprint(),
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "seconds": round(time.perf_counter() - started, 1),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: run every cell and write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m attnbook.experiments kv-heads")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON file to write")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # tiny models: extra threads only add overhead
    report = run_all(CONFIG)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out} in {report['seconds']} s")
    return 0
