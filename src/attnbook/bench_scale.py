"""Benchmarks of attention at scale (chapter 9e): `python -m attnbook.bench --suite scale`.

* decode: the time of one greedy decoding step of :class:`attnbook.models.gpt.TinyGPT` at each
  context length, with the KV cache (one new token attends to the cached keys: O(n)) and without
  (the whole prefix recomputed: O(n²)), as tokens/s; and the cache bytes for n_kv_heads = n_heads
  (MHA), n_heads/4 (GQA) and 1 (MQA).
* block-sparse: a causal sliding window of width W as a FlexAttention block mask
  (``torch.nn.attention.flex_attention`` + ``create_block_mask``, compiled by ``torch.compile``)
  against dense causal SDPA, dense SDPA with the window as a boolean mask (the same function as the
  block mask, computed densely) and :func:`attnbook.efficient.windowed_attention`, for several n
  and W; the first call's compile time is recorded per n, never hidden.
* ring: per-process peak memory of :func:`attnbook.distributed.ring_attention` (forward +
  backward) on 1, 2 and 3 gloo processes for one sequence.

Every timing is the median of interleaved repeats (:func:`attnbook.bench.time_interleaved`),
so all methods of one row ran under the same machine load; the per-round ratios give the spread.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from attnbook.checks import require_positive_int
from attnbook.efficient import windowed_attention
from attnbook.models.gpt import TinyGPT
from attnbook.seeding import manual_seed, torch_generator

__all__ = [
    "BLOCK_METHODS",
    "DECODE_CONTEXTS",
    "SCALE_PARTS",
    "block_mask_crossover",
    "decode_model",
    "decode_step_fns",
    "flex_window_attention",
    "run_block_sparse",
    "run_decode",
    "run_ring_memory",
    "run_scale",
]

DECODE_CONTEXTS = (128, 256, 512, 1024, 2048)
DECODE_MODEL = {"vocab_size": 256, "d_model": 128, "n_heads": 8, "n_layers": 4, "max_len": 4096}
BLOCK_SIZES = (1024, 2048, 4096)
BLOCK_WINDOWS = (64, 128, 256, 512, 1024, 2048, 4096)
BLOCK_METHODS = ("flex_block_mask", "sdpa_causal", "sdpa_window_mask", "windowed")


def decode_model(n_kv_heads: int | None = None, seed: int = 0) -> TinyGPT:
    """The benchmark's TinyGPT (vocab 256, d_model 128, 8 heads, 4 layers), seeded, in eval mode."""
    manual_seed(seed)
    return TinyGPT(**DECODE_MODEL, n_kv_heads=n_kv_heads).eval()


def decode_step_fns(
    model: TinyGPT, context: int, seed: int = 0
) -> dict[str, Callable[[], torch.Tensor]]:
    """{"cached": one token after a cache of `context`, "uncached": the context + 1 tokens anew}."""
    context = require_positive_int("context", context)
    tokens = torch.randint(
        0, model.vocab_size, (1, context + 1), generator=torch_generator(seed)
    ).to(model.embedding.weight.device)
    with torch.no_grad():
        _, cache = model.forward_cached(tokens[:, :context])

    def cached() -> torch.Tensor:
        with torch.no_grad():
            return model.forward_cached(tokens[:, context:], cache)[0]

    def uncached() -> torch.Tensor:
        with torch.no_grad():
            return model(tokens)

    return {"cached": cached, "uncached": uncached}


def _interleaved(fns: dict[str, Callable[[], object]], repeats: int, number: int = 1) -> dict:
    """Warm each fn once, then `attnbook.bench.time_interleaved` (seconds per call per round)."""
    from attnbook.bench import time_interleaved

    for fn in fns.values():
        fn()
    return time_interleaved(fns, repeats, number=number)


def _spread(times: dict[str, list[float]], a: str, b: str) -> dict[str, float]:
    from attnbook.bench import ratio_spread

    return ratio_spread(times[a], times[b])


def run_decode(
    contexts: Sequence[int] = DECODE_CONTEXTS,
    *,
    repeats: int = 5,
    seed: int = 0,
    threads: int = 1,
) -> dict[str, Any]:
    """Decoding step times with and without the cache per context, and cache bytes per variant.

    One thread by default: a decoding step is hundreds of small operations, and on a loaded
    machine every multi-threaded one waits for its slowest thread (measured here: 5 ms steps
    turning into 500 ms ones with 2 threads on 2 busy cores).
    """
    contexts = [require_positive_int("context", c) for c in contexts]
    threads = require_positive_int("threads", threads)
    model = decode_model(seed=seed)
    rows = []
    saved_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for context in contexts:
            rows.append(_decode_row(model, context, repeats, seed))
    finally:
        torch.set_num_threads(saved_threads)
    heads = DECODE_MODEL["n_heads"]
    cache = []
    for label, n_kv in (("MHA", heads), ("GQA", heads // 4), ("MQA", 1)):
        variant = TinyGPT(**DECODE_MODEL, n_kv_heads=n_kv)
        cache.append(
            {
                "variant": label,
                "n_kv_heads": n_kv,
                "bytes_per_context": {str(c): variant.kv_cache_bytes(1, c) for c in contexts},
                "parameters": sum(p.numel() for p in variant.parameters()),
            }
        )
    return {
        "model": DECODE_MODEL,
        "repeats": repeats,
        "threads": threads,
        "rows": rows,
        "cache_bytes": cache,
    }


def _decode_row(model: TinyGPT, context: int, repeats: int, seed: int) -> dict[str, Any]:
    """Interleaved step times of the cached and the uncached step at one context length."""
    fns = decode_step_fns(model, context, seed)
    number = 4 if context <= 512 else 1
    times = _interleaved(fns, repeats, number)
    row: dict[str, Any] = {"context": context, "times_s": times}
    for name in fns:
        row[f"{name}_tokens_per_s"] = 1.0 / statistics.median(times[name])
    row["uncached_over_cached"] = _spread(times, "uncached", "cached")
    return row


_COMPILED_FLEX: Callable[..., torch.Tensor] | None = None


def flex_window_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int, block_mask: Any = None
) -> tuple[torch.Tensor, Any]:
    """Causal window W through compiled FlexAttention: q, k, v (B, H, n, d) -> (out, block mask).

    Query i sees keys i-W+1..i; the block mask lets the kernel skip every (128 × 128) tile that the
    window leaves empty. Pass the returned block mask back to skip rebuilding it.
    """
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    global _COMPILED_FLEX
    if _COMPILED_FLEX is None:
        _COMPILED_FLEX = torch.compile(flex_attention, dynamic=False)
    window = require_positive_int("window", window)
    if block_mask is None:
        width = torch.tensor(window, device=q.device)  # a tensor: a new W needs no recompile

        def sliding(b: Any, h: Any, q_idx: torch.Tensor, kv_idx: torch.Tensor) -> torch.Tensor:
            return (q_idx >= kv_idx) & (q_idx - kv_idx < width)

        n = q.shape[-2]
        block_mask = create_block_mask(sliding, None, None, n, n, device=q.device)
    return _COMPILED_FLEX(q, k, v, block_mask=block_mask), block_mask


def _window_bool_mask(n: int, window: int, device: torch.device) -> torch.Tensor:
    """(n, n) bool, True where key j lies in i-W+1..i."""
    offset = torch.arange(n, device=device)[:, None] - torch.arange(n, device=device)[None, :]
    return (offset >= 0) & (offset < window)


def _block_fns(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    window: int,
    block_mask: Any,
    mask: torch.Tensor,
) -> dict[str, Callable[[], torch.Tensor]]:
    """The four kernels of one (n, W) row as no-argument calls on q, k, v (1, H, n, d)."""
    return {
        "flex_block_mask": lambda: flex_window_attention(q, k, v, window, block_mask)[0],
        "sdpa_causal": lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        "sdpa_window_mask": lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
        "windowed": lambda: windowed_attention(q, k, v, window),
    }


def run_block_sparse(
    sizes: Sequence[int] = BLOCK_SIZES,
    windows: Sequence[int] = BLOCK_WINDOWS,
    *,
    repeats: int = 5,
    heads: int = 4,
    dim: int = 64,
    seed: int = 0,
    cold_compile: bool = True,
) -> dict[str, Any]:
    """Forward times of a causal window W as a flex block mask vs dense kernels, per n and W."""
    sizes = [require_positive_int("size", n) for n in sizes]
    windows = [require_positive_int("window", w) for w in windows]
    previous_cache = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    scratch = tempfile.TemporaryDirectory() if cold_compile else None
    if scratch is not None:  # an empty compile cache: the compile time a reader's first run pays
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = scratch.name
    generator = torch_generator(seed)
    rows, compile_rows = [], []
    try:
        for n in sizes:
            q, k, v = (torch.randn(1, heads, n, dim, generator=generator) for _ in range(3))
            started = time.perf_counter()
            with torch.no_grad():
                flex_window_attention(q, k, v, min(windows))
            first = time.perf_counter() - started
            for window in [w for w in windows if w <= n]:
                with torch.no_grad():
                    out, block_mask = flex_window_attention(q, k, v, window)
                    mask = _window_bool_mask(n, window, q.device)
                    error = float((out - windowed_attention(q, k, v, window)).abs().max())

                fns = _block_fns(q, k, v, window, block_mask, mask)
                with torch.no_grad():
                    times = _interleaved(fns, repeats)
                rows.append(
                    {
                        "n": n,
                        "window": window,
                        "times_s": times,
                        "median_s": {name: statistics.median(t) for name, t in times.items()},
                        "flex_over_sdpa_causal": _spread(times, "flex_block_mask", "sdpa_causal"),
                        "flex_max_error": error,
                        "block_density": 1.0 - block_mask.sparsity() / 100.0,
                    }
                )
            steady = min(r["median_s"]["flex_block_mask"] for r in rows if r["n"] == n)
            compile_rows.append({"n": n, "first_call_s": first, "compile_s": first - steady})
    finally:
        if scratch is not None:
            if previous_cache is None:
                os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
            else:
                os.environ["TORCHINDUCTOR_CACHE_DIR"] = previous_cache
            scratch.cleanup()
    return {
        "config": {"heads": heads, "dim": dim, "dtype": "float32", "repeats": repeats},
        "cold_compile": cold_compile,
        "compile": compile_rows,
        "rows": rows,
    }


def block_mask_crossover(block: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Per n: the widest window whose block mask beat dense causal SDPA in every interleaved round
    ("widest_faster_window", None if none) and by the median ("widest_faster_median")."""
    result: dict[int, dict[str, Any]] = {}
    for row in block["rows"]:
        entry = result.setdefault(
            row["n"], {"widest_faster_window": None, "widest_faster_median": None, "ratios": {}}
        )
        spread = row["flex_over_sdpa_causal"]
        entry["ratios"][row["window"]] = spread["median"]
        for key, value in (
            ("widest_faster_window", spread["high"]),
            ("widest_faster_median", spread["median"]),
        ):
            if value < 1.0 and (entry[key] is None or row["window"] > entry[key]):
                entry[key] = row["window"]
    return result


def run_ring_memory(
    world_sizes: Sequence[int] = (1, 2, 3), *, n: int = 1536, d: int = 64, heads: int = 4
) -> dict[str, Any]:
    """Per-process peak bytes (forward + backward, float32) of ring attention on 1, 2, 3 processes."""
    from attnbook.ring import spawn_ring_attention

    rows = []
    for world in world_sizes:
        ranks = spawn_ring_attention(
            world, n=n, d=d, heads=heads, dtype="float32", start_method="fork"
        )
        rows.append(
            {
                "world_size": world,
                "peak_bytes": [r["peak_bytes"] for r in ranks],
                "max_error": max(max(r["max_error"].values()) for r in ranks),
            }
        )
    return {"config": {"n": n, "d": d, "heads": heads, "dtype": "float32"}, "rows": rows}


SCALE_PARTS = ("decode", "block_sparse", "ring")


def run_scale(
    *,
    quick: bool = False,
    repeats: int = 5,
    seed: int = 0,
    parts: Sequence[str] = SCALE_PARTS,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The suites named in `parts` (the others kept from `previous`); `quick`: a smoke test."""
    unknown = set(parts) - set(SCALE_PARTS)
    if unknown or not parts:
        raise ValueError(f"parts must be some of {SCALE_PARTS}, got {list(parts)}")
    missing = [p for p in SCALE_PARTS if p not in parts and (previous is None or p not in previous)]
    if missing:
        raise ValueError(f"no previous results to keep for {missing}: run them too")
    started = time.perf_counter()
    threads = torch.get_num_threads()
    kept = {p: previous[p] for p in SCALE_PARTS if p not in parts} if previous else {}
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    new: dict[str, Any] = {}
    if "decode" in parts:
        new["decode"] = (
            run_decode((32, 64), repeats=2, seed=seed)
            if quick
            else run_decode(repeats=repeats, seed=seed)
        )
    if "block_sparse" in parts:
        new["block_sparse"] = (
            run_block_sparse((256,), (64, 256), repeats=2, seed=seed, cold_compile=False)
            if quick
            else run_block_sparse(repeats=repeats, seed=seed)
        )
    if "ring" in parts:
        new["ring"] = run_ring_memory((1, 2), n=96, d=16, heads=2) if quick else run_ring_memory()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    for part in new.values():
        part["load_average"] = {"before": load_before, "after": load}
        part["wall_seconds"] = time.perf_counter() - started
    decode, block, ring = (new.get(p, kept.get(p)) for p in SCALE_PARTS)
    return {
        "machine": {
            "torch": torch.__version__,
            "threads": threads,
            "processor": platform.processor() or platform.machine(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "load_average_after": list(load) if load is not None else None,
        },
        "notes": {
            "times_s": "seconds per call per interleaved round (median of `number` calls)",
            "tokens_per_s": "1 / median seconds of one decoding step (batch 1)",
            "compile_s": "first flex call at this n (compile with an empty inductor cache, "
            "block mask build and one run) minus the fastest steady call at this n",
            "peak_bytes": "torch.profiler allocator peak of ring attention forward + backward on "
            "one process, above what was live before",
        },
        "decode": decode,
        "block_sparse": block,
        "ring": ring,
        "kept_from_previous_run": {
            part: (previous or {}).get("machine") for part in SCALE_PARTS if part in kept
        },
        "wall_seconds": time.perf_counter() - started,
    }
