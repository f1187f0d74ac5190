"""The grid behind chapter 5b: `python -m attnbook.experiments transformer [--out PATH]`.

Four experiments on small TransformerBlock stacks, each over several seeds:

* positions: five kinds of positional information (none, learned, sinusoidal, RoPE, ALiBi) on a
  causal previous-token task, trained at length L and tested at L, 2L and 4L;
* heads: 1 to 16 heads at a fixed width on a task that needs two lookups at once (the left and
  the right neighbour of every position);
* ablation: a two-block stack with attention, the feed-forward layer, the residual
  connections or LayerNorm removed in turn, on the neighbour-pair task;
* warmup: a deep pre-LN and a deep post-LN stack trained with and without learning-rate warm-up
  (neighbour-pair task).

Results go to a JSON file (default src/attnbook/results/transformer.json) that records CONFIG.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from attnbook.bench import time_interleaved
from attnbook.checks import require_positive_int
from attnbook.models.transformer import POSITIONS, TokenTransformer, TransformerBlock
from attnbook.results import RESULTS_DIR
from attnbook.seeding import manual_seed, torch_generator
from attnbook.train import IGNORE_INDEX, Batch, masked_accuracy, token_cross_entropy, train_steps

__all__ = [
    "ABLATIONS",
    "CONFIG",
    "DEFAULT_OUT",
    "IGNORE_INDEX",
    "SECTIONS",
    "layer_gradient_norms",
    "layer_times",
    "main",
    "neighbour_pair_batch",
    "neighbour_sum_batch",
    "previous_token_batch",
    "run_ablation",
    "run_all",
    "run_heads",
    "run_positions",
    "run_warmup",
]

DEFAULT_OUT = RESULTS_DIR / "transformer.json"

# Which piece each ablation removes (keyword arguments of TransformerBlock).
ABLATIONS: dict[str, dict[str, bool]] = {
    "full block": {},
    "no attention": {"attention": False},
    "no feed-forward": {"feed_forward": False},
    "no residual": {"residual": False},
    "no LayerNorm": {"layer_norm": False},
}

CONFIG: dict = {
    "positions": {
        "vocab_size": 16,
        "train_length": 16,
        "test_lengths": [16, 32, 64],
        "d_model": 32,
        "n_heads": 2,
        "n_layers": 2,
        "steps": 120,
        "batch_size": 64,
        "lr": 5e-3,
        "eval_size": 256,
        "methods": list(POSITIONS),
        "seeds": [0, 1, 2, 3, 4],
    },
    "heads": {
        "vocab_size": 16,
        "length": 10,
        "d_model": 32,
        "n_layers": 1,
        "heads": [1, 2, 4, 16],
        "steps": 200,
        "batch_size": 64,
        "lr": 3e-3,
        "eval_size": 512,
        "seeds": [0, 1, 2, 3, 4],
    },
    "ablation": {
        "vocab_size": 8,
        "length": 10,
        "d_model": 32,
        "n_heads": 2,
        "n_layers": 2,
        "steps": 120,
        "batch_size": 64,
        "lr": 5e-3,
        "eval_size": 512,
        "variants": list(ABLATIONS),
        "seeds": [0, 1, 2, 3, 4],
    },
    "warmup": {
        "vocab_size": 8,
        "length": 10,
        "d_model": 32,
        "n_heads": 2,
        "n_layers": 6,
        "steps": 80,
        "batch_size": 64,
        "lr": 5e-3,
        "warmup_steps": [0, 25],
        "record_every": 5,
        "eval_size": 512,
        "seeds": [0, 1, 2, 3, 4],
    },
}


def _random_tokens(batch: int, n: int, vocab_size: int, generator: torch.Generator) -> torch.Tensor:
    """Uniform token ids (batch, n) in 0..vocab_size-1."""
    require_positive_int("batch", batch)
    require_positive_int("n", n)
    require_positive_int("vocab_size", vocab_size)
    return torch.randint(vocab_size, (batch, n), generator=generator)


def previous_token_batch(batch: int, n: int, vocab_size: int, generator: torch.Generator) -> Batch:
    """Tokens (batch, n) and targets (batch, n): target i is token i-1 (position 0 unscored, -100)."""
    tokens = _random_tokens(batch, n, vocab_size, generator)
    targets = torch.full_like(tokens, IGNORE_INDEX)
    targets[:, 1:] = tokens[:, :-1]
    return tokens, targets


def neighbour_pair_batch(batch: int, n: int, vocab_size: int, generator: torch.Generator) -> Batch:
    """Targets (batch, n): left * vocab_size + right neighbour of position i (ends unscored)."""
    if n < 3:
        raise ValueError(f"a position with two neighbours needs n >= 3, got {n}")
    tokens = _random_tokens(batch, n, vocab_size, generator)
    targets = torch.full_like(tokens, IGNORE_INDEX)
    targets[:, 1:-1] = tokens[:, :-2] * vocab_size + tokens[:, 2:]
    return tokens, targets


def neighbour_sum_batch(batch: int, n: int, vocab_size: int, generator: torch.Generator) -> Batch:
    """Targets (batch, n): (left + right neighbour) mod vocab_size at position i (ends unscored)."""
    if n < 3:
        raise ValueError(f"a position with two neighbours needs n >= 3, got {n}")
    tokens = _random_tokens(batch, n, vocab_size, generator)
    targets = torch.full_like(tokens, IGNORE_INDEX)
    targets[:, 1:-1] = (tokens[:, :-2] + tokens[:, 2:]) % vocab_size
    return tokens, targets


@torch.no_grad()
def _evaluate(model: nn.Module, batch: Batch) -> tuple[float, float]:
    """Accuracy and loss of model on one held-out (tokens, targets) batch."""
    model.eval()
    tokens, targets = batch
    logits = model(tokens)
    return masked_accuracy(logits, targets), token_cross_entropy(logits, targets).item()


def _test_batch(make: Callable[..., Batch], size: int, n: int, vocab_size: int, seed: int) -> Batch:
    """A held-out batch drawn from its own generator (seed 1000 + seed), never used in training."""
    return make(size, n, vocab_size, torch_generator(1000 + seed))


def run_positions(
    method: str, seed: int, cfg: dict, progress: bool = True
) -> tuple[TokenTransformer, dict[int, float]]:
    """Train a previous-token model (causal unless cfg["causal"] is False); test accuracy per length."""
    if method not in POSITIONS:
        raise ValueError(f"method must be one of {POSITIONS}, got {method!r}")
    manual_seed(seed)
    vocab, length = cfg["vocab_size"], cfg["train_length"]
    model = TokenTransformer(
        vocab,
        vocab,
        d_model=cfg["d_model"],
        n_heads=cfg["n_heads"],
        n_layers=cfg["n_layers"],
        positions=method,
        max_len=max(cfg["test_lengths"]),
        causal=cfg.get("causal", True),
    )
    train_steps(
        model,
        lambda g: previous_token_batch(cfg["batch_size"], length, vocab, g),
        steps=cfg["steps"],
        lr=cfg["lr"],
        seed=seed,
        progress=progress,
        description=f"positions {method}",
    )
    accuracy = {
        n: _evaluate(model, _test_batch(previous_token_batch, cfg["eval_size"], n, vocab, seed))[0]
        for n in cfg["test_lengths"]
    }
    return model, accuracy


def run_heads(
    n_heads: int, seed: int, cfg: dict, progress: bool = True
) -> tuple[TokenTransformer, float]:
    """Train a one-layer model with n_heads at a fixed width on the neighbour-pair task."""
    manual_seed(seed)
    vocab, length = cfg["vocab_size"], cfg["length"]
    model = TokenTransformer(
        vocab,
        vocab * vocab,
        d_model=cfg["d_model"],
        n_heads=n_heads,
        n_layers=cfg["n_layers"],
        positions="learned",
        max_len=length,
    )
    train_steps(
        model,
        lambda g: neighbour_pair_batch(cfg["batch_size"], length, vocab, g),
        steps=cfg["steps"],
        lr=cfg["lr"],
        seed=seed,
        progress=progress,
        description=f"{n_heads} head(s)",
    )
    test = _test_batch(neighbour_pair_batch, cfg["eval_size"], length, vocab, seed)
    return model, _evaluate(model, test)[0]


def run_ablation(
    variant: str, seed: int, cfg: dict, progress: bool = True
) -> tuple[TokenTransformer, float]:
    """Train a small pre-LN stack with one piece removed (ABLATIONS) on the neighbour-pair task."""
    if variant not in ABLATIONS:
        raise ValueError(f"variant must be one of {list(ABLATIONS)}, got {variant!r}")
    manual_seed(seed)
    vocab, length = cfg["vocab_size"], cfg["length"]
    model = TokenTransformer(
        vocab,
        vocab * vocab,
        d_model=cfg["d_model"],
        n_heads=cfg["n_heads"],
        n_layers=cfg["n_layers"],
        positions="learned",
        max_len=length,
        **ABLATIONS[variant],
    )
    train_steps(
        model,
        lambda g: neighbour_pair_batch(cfg["batch_size"], length, vocab, g),
        steps=cfg["steps"],
        lr=cfg["lr"],
        seed=seed,
        progress=progress,
        description=variant,
    )
    test = _test_batch(neighbour_pair_batch, cfg["eval_size"], length, vocab, seed)
    return model, _evaluate(model, test)[0]


def run_warmup(
    norm_first: bool, warmup_steps: int, seed: int, cfg: dict, progress: bool = True
) -> dict:
    """Train a deep stack (pre-LN or post-LN) with or without warm-up; loss curve and test result."""
    manual_seed(seed)
    vocab, length = cfg["vocab_size"], cfg["length"]
    model = TokenTransformer(
        vocab,
        vocab * vocab,
        d_model=cfg["d_model"],
        n_heads=cfg["n_heads"],
        n_layers=cfg["n_layers"],
        positions="learned",
        max_len=length,
        norm_first=norm_first,
    )
    losses = train_steps(
        model,
        lambda g: neighbour_pair_batch(cfg["batch_size"], length, vocab, g),
        steps=cfg["steps"],
        lr=cfg["lr"],
        seed=seed,
        warmup_steps=warmup_steps,
        record_every=cfg["record_every"],
        progress=progress,
        description=f"{'pre' if norm_first else 'post'}-LN, warm-up {warmup_steps}",
    )
    test = _test_batch(neighbour_pair_batch, cfg["eval_size"], length, vocab, seed)
    accuracy, loss = _evaluate(model, test)
    return {"losses": losses, "test_accuracy": accuracy, "test_loss": loss}


def layer_gradient_norms(model: TokenTransformer, batch: Batch) -> list[float]:
    """Gradient norm of each block's last feed-forward weight (linear2) for one batch, at the model's
    current weights: Xiong et al.'s measure of how the gradient is spread over depth."""
    if not isinstance(model, TokenTransformer):
        raise TypeError(f"model must be a TokenTransformer, got {type(model).__name__}")
    model.zero_grad()
    tokens, targets = batch
    token_cross_entropy(model(tokens), targets).backward()
    norms = [block.linear2.weight.grad.norm().item() for block in model.blocks]
    model.zero_grad()
    return norms


def layer_times(
    ns: Sequence[int], d: int = 64, repeats: int = 5, kernel_size: int = 3
) -> dict[str, dict[int, float]]:
    """Median seconds of one forward pass (batch 1, width d) per sequence length n, per layer kind.

    Kinds: "self-attention" (a TransformerBlock's attention sublayer), "GRU" and "convolution"
    (1-D, `kernel_size`, same padding). Timings are interleaved across kinds, repeats times.
    """
    require_positive_int("d", d)
    require_positive_int("repeats", repeats)
    block = TransformerBlock(d, 1, 4 * d).eval()
    gru = nn.GRU(d, d, batch_first=True).eval()
    conv = nn.Conv1d(d, d, kernel_size, padding=kernel_size // 2).eval()
    result: dict[str, dict[int, float]] = {"self-attention": {}, "GRU": {}, "convolution": {}}
    generator = torch_generator(0)
    for n in ns:
        n = require_positive_int("n", n)
        x = torch.randn(1, n, d, generator=generator)
        xt = x.transpose(1, 2).contiguous()

        def attention(x: torch.Tensor = x) -> torch.Tensor:
            with torch.no_grad():
                return block.attend(x)

        def recurrent(x: torch.Tensor = x) -> torch.Tensor:
            with torch.no_grad():
                return gru(x)[0]

        def convolution(xt: torch.Tensor = xt) -> torch.Tensor:
            with torch.no_grad():
                return conv(xt)

        times = time_interleaved(
            {"self-attention": attention, "GRU": recurrent, "convolution": convolution},
            repeats,
            threads=1,
        )
        for kind, values in times.items():
            result[kind][n] = statistics.median(values)
    return result


def _summary(values: list[float]) -> str:
    """'mean ± std' of a list, for the progress log."""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {std:.3f}"


def _run_positions(cfg: dict, progress: bool) -> list[dict]:
    rows = []
    for method in cfg["methods"]:
        for seed in cfg["seeds"]:
            _, accuracy = run_positions(method, seed, cfg, progress)
            rows.append({"method": method, "seed": seed, "accuracy": accuracy})
        summary = ", ".join(
            f"n={n} {_summary([r['accuracy'][n] for r in rows if r['method'] == method])}"
            for n in cfg["test_lengths"]
        )
        print(f"positions {method}: {summary}", flush=True)
    return rows


def _run_heads(cfg: dict, progress: bool) -> list[dict]:
    rows = []
    for n_heads in cfg["heads"]:
        for seed in cfg["seeds"]:
            _, accuracy = run_heads(n_heads, seed, cfg, progress)
            rows.append({"heads": n_heads, "seed": seed, "accuracy": accuracy})
        accs = [r["accuracy"] for r in rows if r["heads"] == n_heads]
        print(f"heads {n_heads}: {_summary(accs)}", flush=True)
    return rows


def _run_ablation(cfg: dict, progress: bool) -> list[dict]:
    rows = []
    for variant in cfg["variants"]:
        for seed in cfg["seeds"]:
            _, accuracy = run_ablation(variant, seed, cfg, progress)
            rows.append({"variant": variant, "seed": seed, "accuracy": accuracy})
        accs = [r["accuracy"] for r in rows if r["variant"] == variant]
        print(f"ablation {variant}: {_summary(accs)}", flush=True)
    return rows


def _run_warmup(cfg: dict, progress: bool) -> list[dict]:
    rows = []
    for norm_first in (True, False):
        for warmup in cfg["warmup_steps"]:
            for seed in cfg["seeds"]:
                run = run_warmup(norm_first, warmup, seed, cfg, progress)
                rows.append({"norm_first": norm_first, "warmup": warmup, "seed": seed, **run})
            finals = [
                r["test_loss"]
                for r in rows
                if r["norm_first"] == norm_first and r["warmup"] == warmup
            ]
            name = "pre" if norm_first else "post"
            print(f"warmup {name}-LN, {warmup} steps: test loss {_summary(finals)}", flush=True)
    return rows


SECTIONS: dict[str, Callable[[dict, bool], list[dict]]] = {
    "positions": _run_positions,
    "heads": _run_heads,
    "ablation": _run_ablation,
    "warmup": _run_warmup,
}


def run_all(config: dict, progress: bool = True, sections: Sequence[str] = tuple(SECTIONS)) -> dict:
    """The experiments of CONFIG named in sections; returns {"results": ..., "seconds": ...}."""
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown sections {sorted(unknown)}; known: {list(SECTIONS)}")
    results: dict = {}
    seconds: dict = {}
    for name in sections:
        start = time.perf_counter()
        results[name] = SECTIONS[name](config[name], progress)
        seconds[name] = round(time.perf_counter() - start, 1)
    return {"results": results, "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    """Run the grid (or some sections of it) and write the JSON file.

    With --sections, an existing output file keeps its other sections if they were made with
    the current CONFIG; --seeds (and --methods, for positions) run part of the grid, and
    --merge FILE ... combines such partial files (run in parallel) into --out.
    """
    parser = argparse.ArgumentParser(prog="python -m attnbook.experiments transformer")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=list(SECTIONS))
    parser.add_argument("--merge", nargs="+", type=Path, default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="run only these seeds")
    parser.add_argument("--methods", nargs="+", default=None, help="positions: only these methods")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    config = json.loads(json.dumps(CONFIG))
    payload: dict = {"config": config, "results": {}, "seconds": {}}
    sources = list(args.merge or [])
    if args.out.exists() and not args.merge:
        sources.append(args.out)
    for source in sources:  # keep the sections that were made with the current CONFIG
        previous = json.loads(source.read_text())
        for name, rows in previous["results"].items():
            if previous["config"].get(name) == config[name]:
                if args.merge:  # partial files of one section (split by --seeds) add up
                    payload["results"].setdefault(name, []).extend(rows)
                    seconds = payload["seconds"].get(name, 0.0) + previous["seconds"][name]
                    payload["seconds"][name] = round(seconds, 1)
                else:
                    payload["results"][name] = rows
                    payload["seconds"][name] = previous["seconds"][name]
            elif args.merge:
                raise ValueError(f"{source}: section {name!r} was made with another CONFIG")
    if not args.merge:
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True)
        run_config = json.loads(json.dumps(CONFIG))
        if args.seeds is not None:  # a part of the grid, to be merged with the others
            for name in args.sections:
                run_config[name]["seeds"] = [s for s in CONFIG[name]["seeds"] if s in args.seeds]
        if args.methods is not None:
            methods = CONFIG["positions"]["methods"]
            run_config["positions"]["methods"] = [m for m in methods if m in args.methods]
        report = run_all(run_config, progress=not args.no_progress, sections=args.sections)
        payload["results"].update(report["results"])
        payload["seconds"].update(report["seconds"])
    payload["results"] = {k: payload["results"][k] for k in SECTIONS if k in payload["results"]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {args.out}: sections {', '.join(payload['results'])}")
    return 0
