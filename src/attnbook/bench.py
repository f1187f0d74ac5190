"""Benchmark of attention implementations: `python -m attnbook.bench --help`.

For every sequence length n it times (median of interleaved runs, torch.utils.benchmark) the
forward pass of naive attention (`attnbook.attention`, builds the n × n weights), chunked
online-softmax attention (`attnbook.efficient`), torch's fused SDPA with 4-D inputs, the same
SDPA with 3-D inputs (which silently takes torch's slower math path), windowed and linear
attention; and optionally forward + backward for naive, chunked and SDPA. It also records the
peak memory of each call (allocator events from torch.profiler), the analytic size of its
largest intermediate, the max error against exact float64 attention, the achieved GFLOP/s and,
as the physical reference, the GFLOP/s of a plain square matmul measured in the same run.
Results go to a JSON file and PNG plots.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import torch.utils.benchmark as benchmark
from torch.profiler import ProfilerActivity, profile
from tqdm import tqdm

from attnbook.attention import scaled_dot_product_attention
from attnbook.checks import require_positive_int
from attnbook.efficient import (
    DEFAULT_BLOCK_K,
    DEFAULT_BLOCK_Q,
    chunked_attention,
    linear_attention,
    windowed_attention,
)
from attnbook.results import RESULTS_DIR
from attnbook.seeding import torch_generator

__all__ = [
    "EXACT_METHODS",
    "METHODS",
    "TRAIN_METHODS",
    "analytic_peak_bytes",
    "attention_flops",
    "build_parser",
    "main",
    "make_method",
    "matmul_gflops",
    "peak_memory_bytes",
    "plot_results",
    "print_summary",
    "ratio_spread",
    "run_benchmark",
    "silenced_stderr",
    "summary_table",
    "time_interleaved",
    "time_ratio",
]

METHODS = ("naive", "chunked", "sdpa", "sdpa_3d", "windowed", "linear")
EXACT_METHODS = ("naive", "chunked", "sdpa", "sdpa_3d")
TRAIN_METHODS = ("naive", "chunked", "sdpa")
QUICK_SIZES = (256, 512, 1024)
QUICK_REPEATS = 3
FULL_SIZES = (256, 512, 1024, 2048, 4096, 8192)
BYTES_PER_FLOAT = 4


def make_method(
    name: str,
    *,
    window: int = 256,
    block_q: int = DEFAULT_BLOCK_Q,
    block_k: int = DEFAULT_BLOCK_K,
) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """The attention function `name` as f(q, k, v) -> output, all (batch, heads, n, d)."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known: {', '.join(METHODS)}")
    window = require_positive_int("window", window)

    def naive(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return scaled_dot_product_attention(q, k, v)[0]

    def chunked(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return chunked_attention(q, k, v, block_q=block_q, block_k=block_k)

    def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return F.scaled_dot_product_attention(q, k, v)

    def sdpa_3d(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        flat = [x.reshape(-1, *x.shape[-2:]) for x in (q, k, v)]
        return F.scaled_dot_product_attention(*flat).reshape(*q.shape[:-1], v.shape[-1])

    def windowed(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return windowed_attention(q, k, v, window)

    def linear(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return linear_attention(q, k, v)

    table = {
        "naive": naive,
        "chunked": chunked,
        "sdpa": sdpa,
        "sdpa_3d": sdpa_3d,
        "windowed": windowed,
        "linear": linear,
    }
    return table[name]


def attention_flops(method: str, n: int, d: int, batch_heads: int, window: int = 256) -> float:
    """Floating-point operations of one forward pass of `method` on (batch_heads, n, d) inputs.

    Exact attention: 4·n²·d per head (2·n²·d for q kᵀ, 2·n²·d for weights · v); windowed:
    4·d per (query, visible key) pair; linear: 4·n·d² per head (φ(k)ᵀv and φ(q)·state).
    """
    for name, value in (("n", n), ("d", d), ("batch_heads", batch_heads), ("window", window)):
        require_positive_int(name, value)
    if method in EXACT_METHODS:
        pairs = n * n
    elif method == "windowed":
        w = min(window, n)
        pairs = w * (w + 1) // 2 + (n - w) * w
    elif method == "linear":
        return 4.0 * n * d * d * batch_heads
    else:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    return 4.0 * pairs * d * batch_heads


def analytic_peak_bytes(
    method: str,
    n: int,
    d: int,
    batch_heads: int,
    *,
    window: int = 256,
    block_q: int = DEFAULT_BLOCK_Q,
    block_k: int = DEFAULT_BLOCK_K,
) -> int:
    """Bytes (float32) of the largest intermediate a forward pass of `method` must hold.

    naive: the scores and the weights, two (batch_heads, n, n) matrices; chunked: one
    (batch_heads, block_q, block_k) tile; sdpa: its own tiles, counted like chunked's; sdpa_3d's
    math path: like naive; windowed: one (batch_heads, block, block + window) band; linear: the
    (batch_heads, d, d) state. Inputs and the (batch_heads, n, d) output are not counted.
    """
    for name, value in (("n", n), ("d", d), ("batch_heads", batch_heads)):
        require_positive_int(name, value)
    if method in ("naive", "sdpa_3d"):
        elements = 2 * n * n
    elif method in ("chunked", "sdpa"):
        elements = min(block_q, n) * min(block_k, n)
    elif method == "windowed":
        block = min(256, n)
        elements = block * min(block + window - 1, n)
    elif method == "linear":
        elements = d * d
    else:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    return elements * batch_heads * BYTES_PER_FLOAT


@contextlib.contextmanager
def silenced_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null (the profiler logs start/stop lines with timestamps)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def peak_memory_bytes(fn: Callable[[], object]) -> int:
    """Peak bytes allocated on the CPU while fn() runs, above what was live before it.

    Measured from torch.profiler(profile_memory=True): every allocation and free of the
    allocator is an event with a signed size; the running sum in time order peaks at the answer.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    with (
        silenced_stderr(),
        profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof,
    ):
        result = fn()
    del result
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    events.sort(key=lambda e: e.start_ns())
    live = peak = 0
    for event in events:
        live += event.nbytes()
        peak = max(peak, live)
    return int(peak)


def matmul_gflops(size: int = 2048, repeats: int = 5, threads: int | None = None) -> float:
    """GFLOP/s of a (size × size) @ (size × size) float32 matmul (median of `repeats` runs)."""
    size = require_positive_int("size", size)
    repeats = require_positive_int("repeats", repeats)
    threads = (
        torch.get_num_threads() if threads is None else require_positive_int("threads", threads)
    )
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    timer = benchmark.Timer(stmt="a @ b", globals={"a": a, "b": b}, num_threads=threads)
    timer.timeit(1)  # warm-up
    seconds = statistics.median(timer.timeit(1).median for _ in range(repeats))
    return 2.0 * size**3 / seconds / 1e9


def time_interleaved(
    fns: dict[str, Callable[[], object]],
    repeats: int,
    threads: int | None = None,
    on_step: Callable[[], None] | None = None,
    *,
    number: int = 1,
) -> dict[str, list[float]]:
    """Seconds per call of each fn, interleaved: round r runs every fn `number` times (name -> repeats times).

    Each entry is the mean over `number` back-to-back calls; interleaving puts every fn under the
    same machine load in each round, so per-round ratios (see `ratio_spread`) are meaningful.
    """
    repeats = require_positive_int("repeats", repeats)
    number = require_positive_int("number", number)
    threads = (
        torch.get_num_threads() if threads is None else require_positive_int("threads", threads)
    )
    if not fns:
        raise ValueError("time_interleaved needs at least one function")
    timers = {
        name: benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads)
        for name, fn in fns.items()
    }
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, timer in timers.items():
            times[name].append(timer.timeit(number).median)
            if on_step is not None:
                on_step()
    return times


def ratio_spread(numerator: Sequence[float], denominator: Sequence[float]) -> dict[str, float]:
    """Two interleaved timings (R,) each -> ratio of their medians and min/max of the R per-round ratios.

    Returns {"median": median(numerator) / median(denominator), "low": ..., "high": ..., "rounds": R}:
    the spread says how much the ratio moved from one round to the next under the machine's load.
    """
    if len(numerator) != len(denominator) or not numerator:
        raise ValueError(
            f"need two non-empty timings of one length, got {len(numerator)} and {len(denominator)}"
        )
    if min(*numerator, *denominator) <= 0:
        raise ValueError("times must be positive")
    per_round = [a / b for a, b in zip(numerator, denominator, strict=True)]
    return {
        "median": statistics.median(numerator) / statistics.median(denominator),
        "low": min(per_round),
        "high": max(per_round),
        "rounds": len(per_round),
    }


def time_ratio(
    results: dict[str, Any], numerator: str, denominator: str, n: int, phase: str = "forward"
) -> dict[str, float]:
    """`ratio_spread` of two methods' recorded times at length n in a `run_benchmark` result."""
    found = {
        r["method"]: r["times_s"]
        for r in results["results"]
        if r["n"] == n and r["phase"] == phase and r["method"] in (numerator, denominator)
    }
    missing = {numerator, denominator} - set(found)
    if missing:
        raise ValueError(f"no {phase} record of {sorted(missing)} at n = {n}")
    return ratio_spread(found[numerator], found[denominator])


def _bind(
    method: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
) -> Callable[[], torch.Tensor]:
    """fn() running method(q, k, v) once (forward only, no autograd graph)."""

    def call() -> torch.Tensor:
        with torch.no_grad():
            return method(q, k, v)

    return call


def _train_step(
    method: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    grad_out: torch.Tensor,
) -> Callable[[], object]:
    """fn() running method forward then backward (gradients of q, k, v) once."""
    leaves = [x.detach().requires_grad_(True) for x in (q, k, v)]

    def step() -> tuple[torch.Tensor, ...]:
        out = method(*leaves)
        return torch.autograd.grad(out, leaves, grad_out)

    return step


def run_benchmark(
    sizes: Sequence[int] = QUICK_SIZES,
    *,
    methods: Sequence[str] = METHODS,
    train_methods: Sequence[str] = TRAIN_METHODS,
    repeats: int = 3,
    batch: int = 1,
    heads: int = 4,
    dim: int = 64,
    window: int = 256,
    block_q: int = DEFAULT_BLOCK_Q,
    block_k: int = DEFAULT_BLOCK_K,
    train_max_n: int = 4096,
    threads: int | None = None,
    matmul_size: int = 2048,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the benchmark on (batch, heads, n, dim) float32 inputs; return a JSON-ready dict."""
    config = {
        "sizes": [require_positive_int("size", n) for n in sizes],
        "methods": list(methods),
        "train_methods": list(train_methods),
        "repeats": repeats,
        "batch": batch,
        "heads": heads,
        "dim": dim,
        "dtype": "float32",
        "window": window,
        "block_q": block_q,
        "block_k": block_k,
        "train_max_n": train_max_n,
        "seed": seed,
    }
    _check_benchmark(config, matmul_size)
    threads = (
        torch.get_num_threads() if threads is None else require_positive_int("threads", threads)
    )
    torch.set_num_threads(threads)
    fns = {
        name: make_method(name, window=window, block_q=block_q, block_k=block_k) for name in methods
    }
    train_sizes = [n for n in config["sizes"] if n <= train_max_n] if train_methods else []
    steps = repeats * (len(config["sizes"]) * len(methods) + len(train_sizes) * len(train_methods))
    bar = tqdm(total=steps, desc="attention benchmark", disable=not progress, unit="run")
    started = time.perf_counter()
    machine_gflops = matmul_gflops(matmul_size, repeats=max(3, repeats), threads=threads)
    records: list[dict[str, Any]] = []
    generator = torch_generator(seed)
    for n in config["sizes"]:
        q, k, v = (torch.randn(batch, heads, n, dim, generator=generator) for _ in range(3))
        records += _forward_records(config, fns, q, k, v, threads, bar)
        if n in train_sizes:
            grad_out = torch.randn(batch, heads, n, dim, generator=generator)
            train_fns = {name: fns[name] for name in train_methods}
            records += _train_records(config, train_fns, q, k, v, grad_out, threads, bar)
        bar.set_postfix(n=n)
    bar.close()
    return {
        "config": config,
        "machine": {
            "torch": torch.__version__,
            "threads": threads,
            "processor": platform.processor() or platform.machine(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "python": platform.python_version(),
            "matmul_size": matmul_size,
            "matmul_gflops": machine_gflops,
        },
        "notes": NOTES,
        "wall_seconds": time.perf_counter() - started,
        "results": records,
    }


NOTES = {
    "time": "median seconds per call over interleaved repeats (torch.utils.benchmark)",
    "peak_bytes": "peak allocator bytes during one call above what was live before "
    "(torch.profiler profile_memory events), output included",
    "analytic_bytes": "float32 bytes of the largest intermediate (see analytic_peak_bytes)",
    "max_error": "max |output - exact| with exact = float64 chunked attention; windowed and "
    "linear attention compute different functions, so theirs is a model difference",
    "gflops": "useful flops (attention_flops; x2.5 with backward) / median time",
}


def _check_benchmark(config: dict[str, Any], matmul_size: int) -> None:
    """Raise ValueError/TypeError naming the first bad entry of a run_benchmark config."""
    if not config["sizes"]:
        raise ValueError("sizes must name at least one sequence length")
    for name in (*config["methods"], *config["train_methods"]):
        if name not in METHODS:
            raise ValueError(f"unknown method {name!r}; known: {', '.join(METHODS)}")
    for name in config["train_methods"]:
        if name not in TRAIN_METHODS:
            raise ValueError(f"method {name!r} has no training benchmark; use {TRAIN_METHODS}")
    for name in ("repeats", "batch", "heads", "dim", "train_max_n"):
        require_positive_int(name, config[name])
    require_positive_int("matmul_size", matmul_size)


def _forward_records(
    config: dict[str, Any],
    fns: dict[str, Callable[..., torch.Tensor]],
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    threads: int,
    bar: tqdm,
) -> list[dict[str, Any]]:
    """Time, peak memory and error against float64 attention of each method on q, k, v (B, H, n, d)."""
    n, dim, window = q.shape[-2], config["dim"], config["window"]
    batch_heads = config["batch"] * config["heads"]
    exact = chunked_attention(q.double(), k.double(), v.double()).float()
    calls = {name: _bind(fn, q, k, v) for name, fn in fns.items()}
    extra: dict[str, dict[str, Any]] = {}
    for name, call in calls.items():
        out = call()  # warm-up, and the error against exact attention
        extra[name] = {
            "max_error": float((out - exact).abs().max()),
            "peak_bytes": peak_memory_bytes(call),
        }
    times = time_interleaved(calls, config["repeats"], threads, on_step=bar.update)
    tiles = {"window": window, "block_q": config["block_q"], "block_k": config["block_k"]}
    return [
        _record(name, "forward", n, times[name], extra[name], dim, batch_heads, window)
        | {"analytic_bytes": analytic_peak_bytes(name, n, dim, batch_heads, **tiles)}
        for name in fns
    ]


def _train_records(
    config: dict[str, Any],
    fns: dict[str, Callable[..., torch.Tensor]],
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    grad_out: torch.Tensor,
    threads: int,
    bar: tqdm,
) -> list[dict[str, Any]]:
    """Time and peak memory of forward + backward of each method on q, k, v (B, H, n, d)."""
    n, dim, window = q.shape[-2], config["dim"], config["window"]
    batch_heads = config["batch"] * config["heads"]
    steps = {name: _train_step(fn, q, k, v, grad_out) for name, fn in fns.items()}
    extra = {}
    for name, step in steps.items():
        step()
        extra[name] = {"max_error": None, "peak_bytes": peak_memory_bytes(step)}
    times = time_interleaved(steps, config["repeats"], threads, on_step=bar.update)
    records = []
    for name in fns:
        record = _record(
            name, "forward+backward", n, times[name], extra[name], dim, batch_heads, window
        )
        record["gflops"] *= 2.5  # backward costs 1.5x the forward matmuls
        records.append(record)
    return records


def _record(
    name: str,
    phase: str,
    n: int,
    times: list[float],
    extra: dict[str, Any],
    dim: int,
    batch_heads: int,
    window: int,
) -> dict[str, Any]:
    """One result row: timing statistics, flop rate, memory and error of `name` at length n."""
    median = statistics.median(times)
    flops = attention_flops(name, n, dim, batch_heads, window)
    quartiles = statistics.quantiles(times, n=4) if len(times) > 1 else [median, median, median]
    return {
        "method": name,
        "phase": phase,
        "n": n,
        "median_s": median,
        "iqr_s": quartiles[2] - quartiles[0],
        "times_s": times,
        "gflops": flops / median / 1e9,
        **extra,
    }


def summary_table(results: dict[str, Any], phase: str = "forward") -> list[dict[str, Any]]:
    """Per n: chunked/SDPA time (with its per-round low and high), chunked/naive memory and
    SDPA and chunked GFLOP/s ÷ matmul GFLOP/s."""
    rows = {}
    for record in results["results"]:
        if record["phase"] == phase:
            rows.setdefault(record["n"], {})[record["method"]] = record
    reference = results["machine"]["matmul_gflops"]
    table = []
    for n in sorted(rows):
        by = rows[n]
        row: dict[str, Any] = {"n": n}
        if "chunked" in by and "sdpa" in by:
            spread = ratio_spread(by["chunked"]["times_s"], by["sdpa"]["times_s"])
            row["time_chunked_over_sdpa"] = spread["median"]
            row["time_chunked_over_sdpa_low"] = spread["low"]
            row["time_chunked_over_sdpa_high"] = spread["high"]
        if "chunked" in by and "naive" in by:
            row["memory_chunked_over_naive"] = by["chunked"]["peak_bytes"] / max(
                by["naive"]["peak_bytes"], 1
            )
        for name in ("sdpa", "chunked"):
            if name in by:
                row[f"{name}_fraction_of_matmul"] = by[name]["gflops"] / reference
        table.append(row)
    return table


def plot_results(results: dict[str, Any], prefix: str | Path) -> list[Path]:
    """Write <prefix>_time.png and <prefix>_memory.png (log-log, per method) and return their paths."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from attnbook.plot import use_book_style

    use_book_style()
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for key, ylabel, scale, suffix in (
        ("median_s", "median time per call (ms)", 1e3, "time"),
        ("peak_bytes", "peak memory of one call (MiB)", 1 / 2**20, "memory"),
    ):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
        for ax, phase in zip(axes, ("forward", "forward+backward"), strict=True):
            draw_metric(results, ax, key=key, phase=phase, scale=scale)
            ax.set_title(phase)
            ax.set_ylabel(ylabel)
        fig.suptitle(
            f"attention, d = {results['config']['dim']}, batch × heads = "
            f"{results['config']['batch'] * results['config']['heads']}, "
            f"{results['machine']['threads']} thread(s), float32"
        )
        fig.tight_layout()
        path = prefix.with_name(f"{prefix.name}_{suffix}.png")
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths


def draw_metric(
    results: dict[str, Any],
    ax: Any,
    *,
    key: str = "median_s",
    phase: str = "forward",
    scale: float = 1e3,
) -> Any:
    """Plot results[key] x scale against n for each method of `phase` on log-log axes; return ax."""
    series: dict[str, tuple[list[int], list[float]]] = {}
    for record in results["results"]:
        if record["phase"] == phase and record.get(key) is not None:
            xs, ys = series.setdefault(record["method"], ([], []))
            xs.append(record["n"])
            ys.append(record[key] * scale)
    for name, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length n")
    if series:
        ax.legend(fontsize=8)
    return ax


def build_parser() -> argparse.ArgumentParser:
    """The command line of `python -m attnbook.bench`."""
    parser = argparse.ArgumentParser(
        prog="python -m attnbook.bench",
        description="Time, memory, error and GFLOP/s of attention implementations vs n, with "
        "the machine's matmul GFLOP/s as reference; writes JSON and PNG plots.",
    )
    parser.add_argument(
        "--suite",
        choices=("attention", "scale"),
        default="attention",
        help="attention: chapter 9c's kernels (default); scale: chapter 9e's decoding with and "
        "without the KV cache, FlexAttention block masks and ring attention memory "
        "(attnbook.bench_scale; --quick and --repeats apply, --out names the JSON)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=("decode", "block-sparse", "ring"),
        default=None,
        help="with --suite scale: re-run these parts, keep the others from --out",
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=list(FULL_SIZES),
        help="sequence lengths n (default: %(default)s)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per method and n")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"preset: sizes {' '.join(map(str, QUICK_SIZES))}, {QUICK_REPEATS} repeats (under 30 s)",
    )
    _add_shape_options(parser)
    parser.add_argument("--train-max-n", type=int, default=4096, help="largest n for training")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON path (default: bench_results.json, or bench_scale_results.json with --suite "
        "scale, in the package's results folder beside the committed runs)",
    )
    parser.add_argument(
        "--plots", type=str, default=None, help="PNG prefix (default: the JSON path without .json)"
    )
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def _add_shape_options(parser: argparse.ArgumentParser) -> None:
    """The inputs' shape, the tile sizes and the methods to time."""
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--dim", type=int, default=64, help="head dimension d")
    parser.add_argument("--window", type=int, default=256, help="window of windowed attention")
    parser.add_argument("--block-q", type=int, default=DEFAULT_BLOCK_Q)
    parser.add_argument("--block-k", type=int, default=DEFAULT_BLOCK_K)
    parser.add_argument(
        "--methods", nargs="+", default=list(METHODS), choices=METHODS, help="forward methods"
    )
    parser.add_argument(
        "--train-methods",
        nargs="*",
        default=list(TRAIN_METHODS),
        choices=TRAIN_METHODS,
        help="methods timed forward + backward (none: skip)",
    )


def main(argv: list[str] | None = None) -> int:
    """Parse argv, run the benchmark, write JSON (and PNGs) and print the summary; return 0."""
    args = build_parser().parse_args(argv)
    if args.out is None:
        name = "bench_scale_results.json" if args.suite == "scale" else "bench_results.json"
        args.out = RESULTS_DIR / name
    if args.suite == "scale":
        return _main_scale(args)
    sizes, repeats = (
        (list(QUICK_SIZES), QUICK_REPEATS) if args.quick else (args.sizes, args.repeats)
    )
    results = run_benchmark(
        sizes,
        methods=args.methods,
        train_methods=args.train_methods,
        repeats=repeats,
        batch=args.batch,
        heads=args.heads,
        dim=args.dim,
        window=args.window,
        block_q=args.block_q,
        block_k=args.block_k,
        train_max_n=args.train_max_n,
        threads=args.threads,
        matmul_size=args.matmul_size,
        seed=args.seed,
        progress=not args.no_progress,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")
    if not args.no_plots:
        prefix = args.plots if args.plots else str(args.out.with_suffix(""))
        for path in plot_results(results, prefix):
            print(f"wrote {path}")
    print_summary(results)
    return 0


def _main_scale(args: argparse.Namespace) -> int:
    """The chapter 9e suite: run, write JSON, print the decode rates and the block-mask crossover."""
    from attnbook.bench_scale import SCALE_PARTS, block_mask_crossover, run_scale

    if args.threads is not None:
        torch.set_num_threads(require_positive_int("threads", args.threads))
    previous = json.loads(args.out.read_text()) if args.only and args.out.exists() else None
    parts = [p.replace("-", "_") for p in args.only] if args.only else list(SCALE_PARTS)
    results = run_scale(
        quick=args.quick, repeats=args.repeats, seed=args.seed, parts=parts, previous=previous
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")
    for row in results["decode"]["rows"]:
        print(
            f"context={row['context']:>5}  cached {row['cached_tokens_per_s']:.1f} tokens/s  "
            f"uncached {row['uncached_tokens_per_s']:.1f} tokens/s"
        )
    for entry in results["decode"]["cache_bytes"]:
        print(f"{entry['variant']} n_kv_heads={entry['n_kv_heads']}: {entry['bytes_per_context']}")
    for item in results["block_sparse"]["compile"]:
        print(f"flex n={item['n']}: compile {item['compile_s']:.1f} s")
    for n, entry in block_mask_crossover(results["block_sparse"]).items():
        ratios = ", ".join(f"W={w}: {r:.2f}" for w, r in entry["ratios"].items())
        print(
            f"n={n} flex/sdpa_causal {ratios}; widest W faster in every round "
            f"{entry['widest_faster_window']}, by the median {entry['widest_faster_median']}"
        )
    for row in results["ring"]["rows"]:
        print(f"ring on {row['world_size']}: peak bytes per rank {row['peak_bytes']}")
    return 0


def print_summary(results: dict[str, Any]) -> None:
    """Print the matmul rate and, per n, the forward summary_table (time ratio with its range)."""
    print(f"matmul: {results['machine']['matmul_gflops']:.0f} GFLOP/s")
    for row in summary_table(results):
        parts = [f"n={row['n']:>5}"]
        if "time_chunked_over_sdpa" in row:
            parts.append(
                f"time_chunked_over_sdpa={row['time_chunked_over_sdpa']:.3g} "
                f"({row['time_chunked_over_sdpa_low']:.3g}-{row['time_chunked_over_sdpa_high']:.3g})"
            )
        for key in (
            "memory_chunked_over_naive",
            "sdpa_fraction_of_matmul",
            "chunked_fraction_of_matmul",
        ):
            if key in row and not math.isnan(row[key]):
                parts.append(f"{key}={row[key]:.3g}")
        print("  ".join(parts))


if __name__ == "__main__":
    sys.exit(main())
