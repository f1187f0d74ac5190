"""The grid behind chapter 2b: `python -m attnbook.experiments depth-breadth [--out PATH]`.

Five experiments on small attention-only transformers, each over several seeds:
induction accuracy vs depth, the receptive field of windowed stacks (by gradients) and a
first-token task vs depth, multi-query associative recall vs number of heads (with per-head
entropy), deep-narrow vs shallow-wide at a fixed budget, and accuracy vs attention
temperature on an exact-lookup and a voting task.
Results go to a JSON file (default src/attnbook/results/depth_breadth.json) that records CONFIG and a
fingerprint of the code that produced them (`code_fingerprint`), so a test can tell when the
committed file is stale.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from attnbook.attention import scaled_dot_product_attention
from attnbook.checks import require_float_tensor, require_positive, require_positive_int
from attnbook.data.focus import make_exact_lookup, make_noisy_vote
from attnbook.data.induction import make_induction_batch
from attnbook.data.reach import make_first_token_batch
from attnbook.data.recall import make_mqar_batch, mqar_length
from attnbook.experiments import fingerprint
from attnbook.measures import (
    attention_entropy,
    gradient_receptive_field,
    input_gradient_norms,
    receptive_field,
)
from attnbook.models.attention_only import AttentionOnlyTransformer
from attnbook.results import RESULTS_DIR
from attnbook.seeding import torch_generator
from attnbook.train import Batch, count_parameters, masked_accuracy, seed_everything, train_steps

__all__ = [
    "CONFIG",
    "DEFAULT_OUT",
    "FINGERPRINTED_MODULES",
    "attention_vote",
    "code_fingerprint",
    "count_parameters",
    "focus_sweep",
    "main",
    "merge_report",
    "run_all",
    "run_induction",
    "run_mqar",
    "run_reach",
    "spread_interval",
]

DEFAULT_OUT = RESULTS_DIR / "depth_breadth.json"


CONFIG: dict = {
    "induction": {
        "vocab_size": 32,
        "length": 32,
        "min_segment": 3,
        "max_segment": 8,
        "d_model": 64,
        "num_heads": 2,
        "layers": [1, 2, 3],
        "steps": 400,
        "batch_size": 64,
        "lr": 3e-3,
        "eval_size": 1024,
        "seeds": [0, 1, 2],
    },
    "receptive_field": {"length": 40, "layers": [1, 2, 3, 4], "windows": [2, 3, 4, 6]},
    "reach": {
        "vocab_size": 16,
        "length": 16,
        "windows": [2, 3, 4],
        "layers": [1, 2, 3],
        "d_model": 32,
        "num_heads": 1,
        "steps": 300,
        "batch_size": 64,
        "lr": 3e-3,
        "eval_size": 1024,
        "seeds": [0, 1, 2],
    },
    "mqar": {
        "vocab_size": 64,
        "num_pairs": 8,
        "num_queries": 8,
        "d_model": 64,
        "num_layers": 2,
        "heads": [1, 2, 4, 8],
        "steps": 400,
        "batch_size": 64,
        "lr": 3e-3,
        "eval_size": 1024,
        "seeds": [0, 1, 2],
    },
    "balance": {"shapes": [[1, 88], [4, 46]], "num_heads": 2},
    "focus": {
        "num_items": 32,
        "dim": 16,
        "num_classes": 4,
        "exact_noise": 0.2,
        "exact_similarity": 0.8,
        "vote_noise": 0.8,
        "vote_flip": 0.3,
        "temperatures": [round(10 ** (k / 4), 6) for k in range(-12, 5)],
        "eval_size": 4096,
        "seeds": [0, 1, 2],
    },
}


# The modules whose code decides the grid's numbers and that only chapter 2b uses. Shared modules
# (attnbook.attention, measures, train, seeding) are left out on purpose: other chapters change
# them for their own reasons; the chapter re-runs grid cells live and checks that they land in
# the committed spread, which catches a change there that moves the numbers.
FINGERPRINTED_MODULES: tuple[str, ...] = (
    "attnbook.models.attention_only",
    "attnbook.data.induction",
    "attnbook.data.recall",
    "attnbook.data.reach",
    "attnbook.data.focus",
)


def code_fingerprint(parts: Sequence[object] | None = None) -> str:
    """16 hex digits of the code that decides the grid's numbers (or of `parts`, see fingerprint)."""
    return fingerprint.code_fingerprint(_fingerprinted() if parts is None else parts)


def _fingerprinted() -> tuple[object, ...]:
    """This module's experiment code (not its command line), then FINGERPRINTED_MODULES."""
    functions = (masked_accuracy, train_steps, _evaluate, _train_and_score, run_induction)
    sections = tuple(_SECTIONS.values())
    return (
        *functions,
        run_reach,
        run_mqar,
        attention_vote,
        focus_sweep,
        gradient_receptive_field,
        input_gradient_norms,
        run_all,
        *sections,
        *FINGERPRINTED_MODULES,
    )


def spread_interval(values: Sequence[float], *, floor: float = 0.0) -> tuple[float, float]:
    """(low, high): the range of `values` widened on each side by max(its width, floor).

    A fresh seed of the same configuration should land inside; `floor` covers the evaluation's
    sampling noise when the seeds happen to agree closely.
    """
    if len(values) < 2:
        raise ValueError(f"need at least 2 values for a spread, got {len(values)}")
    if floor < 0:
        raise ValueError(f"floor must be >= 0, got {floor}")
    low, high = float(min(values)), float(max(values))
    margin = max(high - low, floor)
    return low - margin, high + margin


def _evaluate(model: nn.Module, batch: Batch) -> float:
    """Masked accuracy of model on one held-out batch."""
    with torch.no_grad():
        return masked_accuracy(model(batch[0]), batch[1])


def _train_and_score(
    model: AttentionOnlyTransformer,
    make_batch: Callable[[int, torch.Generator], Batch],
    seed: int,
    cfg: dict,
    progress: bool,
    description: str,
) -> float:
    """Train model on make_batch(batch_size, generator) batches; return held-out masked accuracy."""
    train_steps(
        model,
        lambda generator: make_batch(cfg["batch_size"], generator),
        steps=cfg["steps"],
        lr=cfg["lr"],
        seed=seed + 1000,
        progress=progress,
        description=description,
    )
    held_out = make_batch(cfg["eval_size"], torch_generator(10_000 + seed))
    return _evaluate(model, held_out)


def run_induction(
    num_layers: int,
    seed: int,
    cfg: dict,
    *,
    d_model: int | None = None,
    num_heads: int | None = None,
    progress: bool = True,
) -> tuple[AttentionOnlyTransformer, float]:
    """Train an L-layer attention-only model on induction data; return it and held-out accuracy."""
    seed_everything(seed)
    model = AttentionOnlyTransformer(
        cfg["vocab_size"],
        cfg["length"],
        d_model=d_model or cfg["d_model"],
        num_layers=num_layers,
        num_heads=num_heads or cfg["num_heads"],
    )

    def batch(size: int, generator: torch.Generator) -> Batch:
        return make_induction_batch(
            size,
            cfg["length"],
            cfg["vocab_size"],
            min_segment=cfg["min_segment"],
            max_segment=cfg["max_segment"],
            generator=generator,
        )

    accuracy = _train_and_score(model, batch, seed, cfg, progress, f"induction L={num_layers}")
    return model, accuracy


def run_reach(
    num_layers: int, window: int, seed: int, cfg: dict, *, progress: bool = True
) -> tuple[AttentionOnlyTransformer, list[float]]:
    """Train an L-layer model with window W on the first-token task; return it and accuracy per position."""
    seed_everything(seed)
    model = AttentionOnlyTransformer(
        cfg["vocab_size"],
        cfg["length"],
        d_model=cfg["d_model"],
        num_layers=num_layers,
        num_heads=cfg["num_heads"],
        window=window,
    )

    def batch(size: int, generator: torch.Generator) -> Batch:
        return make_first_token_batch(size, cfg["length"], cfg["vocab_size"], generator=generator)

    _train_and_score(model, batch, seed, cfg, progress, f"reach L={num_layers} W={window}")
    tokens, targets = batch(cfg["eval_size"], torch_generator(10_000 + seed))
    with torch.no_grad():
        hits = (model(tokens).argmax(dim=-1) == targets).float().mean(dim=0)
    return model, [round(float(h), 4) for h in hits[1:]]


def run_mqar(
    num_heads: int,
    seed: int,
    cfg: dict,
    *,
    num_layers: int | None = None,
    d_model: int | None = None,
    progress: bool = True,
) -> tuple[AttentionOnlyTransformer, dict[str, object]]:
    """Train a model with `num_heads` heads (fixed width) on MQAR; return it, accuracy and per-head entropy.

    entropy[layer][head] is the mean attention entropy (nats) of the query positions' rows.
    """
    seed_everything(seed)
    length = mqar_length(cfg["num_pairs"], cfg["num_queries"])
    model = AttentionOnlyTransformer(
        cfg["vocab_size"],
        length,
        d_model=d_model or cfg["d_model"],
        num_layers=num_layers or cfg["num_layers"],
        num_heads=num_heads,
    )

    def batch(size: int, generator: torch.Generator) -> Batch:
        return make_mqar_batch(
            size, cfg["num_pairs"], cfg["num_queries"], cfg["vocab_size"], generator=generator
        )

    accuracy = _train_and_score(model, batch, seed, cfg, progress, f"MQAR heads={num_heads}")
    queries = slice(2 * cfg["num_pairs"], length)
    entropy = [
        [round(float(attention_entropy(w[:, h, queries, :]).mean()), 4) for h in range(num_heads)]
        for w in model.last_weights
    ]
    return model, {"accuracy": accuracy, "entropy": entropy}


def attention_vote(
    keys: torch.Tensor,
    labels: torch.Tensor,
    queries: torch.Tensor,
    num_classes: int,
    temperature: float,
) -> torch.Tensor:
    """Class probabilities (B, C): softmax(q·kᵀ / temperature)-weighted one-hot labels of N items.

    keys (B, N, d), labels (B, N) int64, queries (B, d); no learned parameters, so temperature is
    the only knob on how many items the answer averages over.
    """
    require_float_tensor("keys", keys)
    require_float_tensor("queries", queries)
    require_positive_int("num_classes", num_classes)
    require_positive("temperature", temperature)
    if keys.dim() != 3 or queries.shape != (keys.shape[0], keys.shape[2]):
        raise ValueError(
            f"keys must be (B, N, d) and queries (B, d), got {tuple(keys.shape)} and "
            f"{tuple(queries.shape)}"
        )
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.long:
        raise TypeError("labels must be an int64 tensor of class ids (B, N)")
    if labels.shape != keys.shape[:2]:
        raise ValueError(
            f"labels must be (B, N) = {tuple(keys.shape[:2])}, got {tuple(labels.shape)}"
        )
    if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes}), got max {int(labels.max())}")
    values = nn.functional.one_hot(labels, num_classes).to(keys.dtype)
    probs, _ = scaled_dot_product_attention(
        queries[:, None, :], keys, values, scale=1.0, temperature=temperature
    )
    return probs[:, 0, :]


def focus_sweep(cfg: dict, seed: int) -> dict[str, list[float]]:
    """Accuracy of attention_vote at each temperature on the exact-lookup and the voting task."""
    generator = torch_generator(seed)
    common = (cfg["eval_size"], cfg["num_items"], cfg["dim"], cfg["num_classes"])
    exact = make_exact_lookup(
        *common, noise=cfg["exact_noise"], similarity=cfg["exact_similarity"], generator=generator
    )
    vote = make_noisy_vote(
        *common, noise=cfg["vote_noise"], flip=cfg["vote_flip"], generator=generator
    )
    out: dict[str, list[float]] = {"exact": [], "vote": []}
    for name, (keys, labels, queries, targets) in (("exact", exact), ("vote", vote)):
        for tau in cfg["temperatures"]:
            probs = attention_vote(keys, labels, queries, cfg["num_classes"], tau)
            out[name].append(round((probs.argmax(-1) == targets).float().mean().item(), 4))
    return out


def run_all(config: dict, *, sections: Sequence[str] | None = None, progress: bool = True) -> dict:
    """Run the named sections (default all) of `config`: {'config', 'results', 'seconds'} by section."""
    sections = list(config) if sections is None else list(sections)
    unknown = sorted(set(sections) - set(config))
    if unknown:
        raise ValueError(f"unknown sections {unknown}; known: {sorted(config)}")
    results: dict = {}
    seconds: dict[str, float] = {}
    for name, run_section in _SECTIONS.items():  # always in this order, whatever `sections` says
        if name in sections:
            tick = time.perf_counter()
            results[name] = run_section(config, progress)
            seconds[name] = round(time.perf_counter() - tick, 1)
    return {
        "config": copy.deepcopy(config),
        "code": code_fingerprint(),
        "results": results,
        "seconds": seconds,
    }


def _receptive_field_rows(config: dict, progress: bool) -> list[dict]:
    """Measured (by gradients) against formula receptive fields of windowed stacks."""
    cfg = config["receptive_field"]
    return [
        {
            "layers": layers,
            "window": window,
            "measured": gradient_receptive_field(
                AttentionOnlyTransformer(
                    8, cfg["length"], d_model=16, num_layers=layers, window=window
                ),
                cfg["length"],
            ),
            "formula": receptive_field(layers, window),
        }
        for layers in cfg["layers"]
        for window in cfg["windows"]
    ]


def _induction_rows(config: dict, progress: bool) -> list[dict]:
    """Induction accuracy per (layers, seed)."""
    cfg = config["induction"]
    rows = []
    jobs = [(layers, seed) for layers in cfg["layers"] for seed in cfg["seeds"]]
    for layers, seed in tqdm(jobs, desc="induction", disable=not progress):
        _, acc = run_induction(layers, seed, cfg, progress=False)
        rows.append({"layers": layers, "seed": seed, "accuracy": round(acc, 4)})
    return rows


def _reach_rows(config: dict, progress: bool) -> list[dict]:
    """First-token accuracy by distance per (layers, window, seed)."""
    cfg = config["reach"]
    rows = []
    jobs = [(n, w, s) for n in cfg["layers"] for w in cfg["windows"] for s in cfg["seeds"]]
    for layers, window, seed in tqdm(jobs, desc="reach", disable=not progress):
        _, per_distance = run_reach(layers, window, seed, cfg, progress=False)
        rows.append({"layers": layers, "window": window, "seed": seed, "accuracy": per_distance})
    return rows


def _mqar_rows(config: dict, progress: bool) -> list[dict]:
    """MQAR accuracy and per-head entropy per (heads, seed)."""
    cfg = config["mqar"]
    rows = []
    jobs = [(h, s) for h in cfg["heads"] for s in cfg["seeds"]]
    for heads, seed in tqdm(jobs, desc="MQAR", disable=not progress):
        _, out = run_mqar(heads, seed, cfg, progress=False)
        rows.append(
            {
                "heads": heads,
                "seed": seed,
                "accuracy": round(out["accuracy"], 4),
                "entropy": out["entropy"],
            }
        )
    return rows


def _balance_rows(config: dict, progress: bool) -> list[dict]:
    """Deep-narrow against shallow-wide at a fixed budget, on induction and MQAR, per seed."""
    cfg = config["balance"]
    rows = []
    jobs = [
        (task, layers, width, seed)
        for task in ("induction", "mqar")
        for layers, width in cfg["shapes"]
        for seed in config[task]["seeds"]
    ]
    for task, layers, width, seed in tqdm(jobs, desc="balance", disable=not progress):
        heads = cfg["num_heads"]
        if task == "induction":
            model, acc = run_induction(
                layers, seed, config[task], d_model=width, num_heads=heads, progress=False
            )
        else:
            model, out = run_mqar(
                heads, seed, config[task], num_layers=layers, d_model=width, progress=False
            )
            acc = out["accuracy"]
        rows.append(
            {
                "task": task,
                "layers": layers,
                "d_model": width,
                "seed": seed,
                "parameters": count_parameters(model),
                "accuracy": round(acc, 4),
            }
        )
    return rows


def _focus_rows(config: dict, progress: bool) -> list[dict]:
    """Accuracy against temperature on exact lookup and noisy voting, per seed."""
    cfg = config["focus"]
    return [dict(seed=s, **focus_sweep(cfg, s)) for s in cfg["seeds"]]


_SECTIONS: dict[str, Callable[[dict, bool], list[dict]]] = {
    "receptive_field": _receptive_field_rows,
    "induction": _induction_rows,
    "reach": _reach_rows,
    "mqar": _mqar_rows,
    "balance": _balance_rows,
    "focus": _focus_rows,
}


def merge_report(old: dict, new: dict, config: dict) -> dict:
    """Replace the sections of `old` that `new` re-ran; refuse if a kept section's config changed."""
    kept = [name for name in config if name not in new["results"]]
    if "balance" in kept and {"induction", "mqar"} & set(new["results"]):
        raise ValueError("re-running induction or mqar also needs --only balance")
    stale = [
        name
        for name in kept
        if old.get("config", {}).get(name) != json.loads(json.dumps(config[name]))
    ]
    if stale:
        raise ValueError(
            f"sections {stale} changed configuration: re-run them too (--only {' '.join(stale)})"
        )
    old_seconds = old["seconds"] if isinstance(old.get("seconds"), dict) else {}
    if old.get("code") != new.get("code"):
        raise ValueError("the code changed since the kept sections ran: re-run the whole grid")
    merged = {
        "config": copy.deepcopy(config),
        "code": new["code"],
        "results": {name: old["results"][name] for name in kept} | new["results"],
        "seconds": {name: old_seconds.get(name) for name in kept} | new["seconds"],
    }
    merged["results"] = {name: merged["results"][name] for name in config}
    merged["seconds"] = {name: merged["seconds"][name] for name in config}
    return merged


def main(argv: list[str] | None = None) -> int:
    """Command line: run the grid (or --only some sections, merged into --out) and write JSON."""
    parser = argparse.ArgumentParser(prog="python -m attnbook.experiments depth-breadth")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON file to write")
    parser.add_argument(
        "--only", nargs="+", choices=list(CONFIG), help="re-run these sections, keep the others"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # tiny models: extra threads only add overhead
    report = run_all(CONFIG, sections=args.only)
    if args.only:
        report = merge_report(json.loads(args.out.read_text()), report, CONFIG)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}; seconds per section: {report['seconds']}")
    return 0
