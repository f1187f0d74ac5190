"""Tests for attnbook.bench on a tiny size (timing goals are not asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from attnbook.bench import (
    EXACT_METHODS,
    METHODS,
    analytic_peak_bytes,
    attention_flops,
    build_parser,
    main,
    make_method,
    matmul_gflops,
    peak_memory_bytes,
    print_summary,
    ratio_spread,
    run_benchmark,
    silenced_stderr,
    summary_table,
    time_interleaved,
    time_ratio,
)


def test_every_method_computes_attention_of_the_right_shape() -> None:
    q, k, v = (torch.randn(1, 2, 64, 16) for _ in range(3))
    exact = make_method("naive")(q, k, v)
    for name in METHODS:
        out = make_method(name, window=16, block_q=16, block_k=32)(q, k, v)
        assert out.shape == (1, 2, 64, 16)
        if name in EXACT_METHODS:
            torch.testing.assert_close(out, exact, atol=1e-5, rtol=1e-5)


def test_flops_and_analytic_bytes() -> None:
    assert attention_flops("sdpa", 4096, 64, 4) == 4 * 4096**2 * 64 * 4
    assert attention_flops("windowed", 10, 2, 1, window=3) == 4 * (6 + 7 * 3) * 2
    assert attention_flops("linear", 100, 8, 2) == 4 * 100 * 64 * 2
    assert analytic_peak_bytes("naive", 4096, 64, 4) == 2 * 4096**2 * 4 * 4
    assert analytic_peak_bytes("chunked", 4096, 64, 4, block_q=128, block_k=512) == 128 * 512 * 16


def test_peak_memory_sees_a_large_temporary() -> None:
    def make_and_drop() -> float:
        big = torch.ones(1_000_000)  # 4 MB, freed before returning
        return float(big.sum())

    assert 4_000_000 <= peak_memory_bytes(make_and_drop) < 5_000_000


def test_silenced_stderr_restores_the_descriptor(capfd) -> None:
    import os

    with silenced_stderr():
        os.write(2, b"hidden")
    os.write(2, b"shown")
    assert capfd.readouterr().err == "shown"


def test_timing_helpers_return_positive_numbers() -> None:
    times = time_interleaved({"a": lambda: torch.ones(10).sum(), "b": lambda: None}, 3)
    assert set(times) == {"a", "b"} and all(len(t) == 3 for t in times.values())
    assert all(t > 0 for ts in times.values() for t in ts)
    assert matmul_gflops(64, repeats=2) > 0
    batched = time_interleaved({"a": lambda: torch.ones(10).sum()}, 2, number=5)
    assert len(batched["a"]) == 2 and min(batched["a"]) > 0


def test_ratio_spread_pairs_the_rounds() -> None:
    spread = ratio_spread([2.0, 4.0, 3.0], [1.0, 1.0, 2.0])
    assert spread == {"median": 3.0, "low": 1.5, "high": 4.0, "rounds": 3}


def test_run_benchmark_tiny_records_everything() -> None:
    results = run_benchmark(
        [64],
        repeats=1,
        heads=2,
        dim=16,
        window=16,
        block_q=16,
        block_k=32,
        matmul_size=64,
        progress=False,
    )
    rows = results["results"]
    assert {(r["method"], r["phase"]) for r in rows} == {
        *((m, "forward") for m in METHODS),
        *((m, "forward+backward") for m in ("naive", "chunked", "sdpa")),
    }
    for row in rows:
        assert row["median_s"] > 0 and row["gflops"] > 0 and row["peak_bytes"] > 0
        if row["phase"] == "forward" and row["method"] in EXACT_METHODS:
            assert row["max_error"] < 1e-5
    (summary,) = summary_table(results)
    assert summary["n"] == 64 and summary["time_chunked_over_sdpa"] > 0
    assert (
        summary["time_chunked_over_sdpa_low"]
        <= summary["time_chunked_over_sdpa"]
        <= summary["time_chunked_over_sdpa_high"]
    )
    spread = time_ratio(results, "chunked", "sdpa", 64, "forward+backward")
    assert spread["rounds"] == 1 and spread["low"] == spread["high"] > 0
    with pytest.raises(ValueError, match="no forward record"):
        time_ratio(results, "chunked", "sdpa", 128)
    json.dumps(results)  # JSON-ready


def test_print_summary_names_no_file_and_no_nan(capsys) -> None:
    results = run_benchmark(
        [32], repeats=2, heads=1, dim=8, window=8, matmul_size=32, train_methods=(), progress=False
    )
    print_summary(results)
    text = capsys.readouterr().out
    assert "matmul:" in text and "time_chunked_over_sdpa=" in text
    assert "nan" not in text and "wrote" not in text


def test_main_writes_json_and_plots(tmp_path) -> None:
    out = tmp_path / "r.json"
    argv = ["--sizes", "32", "--repeats", "1", "--heads", "1", "--dim", "8", "--window", "8"]
    argv += ["--matmul-size", "32", "--train-methods", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    data = json.loads(out.read_text())
    assert data["config"]["sizes"] == [32] and data["machine"]["matmul_gflops"] > 0
    assert (tmp_path / "r_time.png").stat().st_size > 0
    assert (tmp_path / "r_memory.png").stat().st_size > 0


def test_command_line_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "attnbook.bench", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--quick" in done.stdout and "--sizes" in done.stdout
    assert build_parser().parse_args(["--quick"]).quick


BAD_INPUTS = [
    (make_method, ("flash",), {}, ValueError, "unknown method"),
    (make_method, ("windowed",), {"window": 0}, ValueError, "window must be >= 1"),
    (attention_flops, ("naive", 0, 64, 1), {}, ValueError, "n must be >= 1"),
    (attention_flops, ("magic", 8, 64, 1), {}, ValueError, "unknown method"),
    (analytic_peak_bytes, ("magic", 8, 64, 1), {}, ValueError, "unknown method"),
    (analytic_peak_bytes, ("naive", 8, 64.0, 1), {}, TypeError, "d must be an int"),
    (peak_memory_bytes, (3,), {}, TypeError, "fn must be callable"),
    (matmul_gflops, (0,), {}, ValueError, "size must be >= 1"),
    (time_interleaved, ({}, 3), {}, ValueError, "at least one function"),
    (time_interleaved, ({"a": print}, 0), {}, ValueError, "repeats must be >= 1"),
    (time_interleaved, ({"a": print}, 1), {"number": 0}, ValueError, "number must be >= 1"),
    (ratio_spread, ([1.0], [1.0, 2.0]), {}, ValueError, "one length"),
    (ratio_spread, ([], []), {}, ValueError, "non-empty"),
    (ratio_spread, ([1.0], [0.0]), {}, ValueError, "positive"),
    (run_benchmark, ([],), {}, ValueError, "at least one sequence length"),
    (run_benchmark, ([8],), {"methods": ("flash",)}, ValueError, "unknown method"),
    (run_benchmark, ([8],), {"train_methods": ("linear",)}, ValueError, "no training benchmark"),
    (run_benchmark, ([8],), {"repeats": 0}, ValueError, "repeats must be >= 1"),
]


@pytest.mark.parametrize(("fn", "args", "kwargs", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs_raise_clear_errors(fn, args, kwargs, error, fragment) -> None:
    with pytest.raises(error, match=fragment):
        fn(*args, **kwargs)
