"""attnbook.bench_scale: decoding rows, FlexAttention block masks, ring memory, the committed JSON."""

from __future__ import annotations

import pytest
import torch

from attnbook import results
from attnbook.bench import main
from attnbook.bench_scale import (
    BLOCK_METHODS,
    DECODE_CONTEXTS,
    block_mask_crossover,
    decode_model,
    decode_step_fns,
    flex_window_attention,
    run_decode,
)
from attnbook.efficient import windowed_attention


def test_decode_steps_compute_the_same_last_logits() -> None:
    model = decode_model()
    fns = decode_step_fns(model, 40)
    cached, full = fns["cached"](), fns["uncached"]()
    assert cached.shape == (1, 1, 256) and full.shape == (1, 41, 256)
    torch.testing.assert_close(cached[:, -1], full[:, -1], rtol=1e-4, atol=1e-4)


def test_run_decode_tiny() -> None:
    report = run_decode((16, 32), repeats=2)
    assert [row["context"] for row in report["rows"]] == [16, 32]
    assert all(row["cached_tokens_per_s"] > 0 for row in report["rows"])
    bytes_ = {e["variant"]: e["bytes_per_context"]["32"] for e in report["cache_bytes"]}
    assert bytes_["MHA"] == 4 * bytes_["GQA"] == 8 * bytes_["MQA"]


def test_flex_window_equals_windowed_attention() -> None:
    q, k, v = (torch.randn(1, 2, 256, 16) for _ in range(3))
    with torch.no_grad():
        out, block_mask = flex_window_attention(q, k, v, 40)
        again, _ = flex_window_attention(q, k, v, 40, block_mask)
    torch.testing.assert_close(out, windowed_attention(q, k, v, 40), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(again, out)


def test_crossover_is_the_widest_faster_window() -> None:
    def row(n: int, w: int, median: float, high: float) -> dict:
        return {"n": n, "window": w, "flex_over_sdpa_causal": {"median": median, "high": high}}

    block = {
        "rows": [row(8, 2, 0.2, 0.3), row(8, 4, 0.9, 1.1), row(8, 8, 1.5, 1.6), row(4, 4, 1.2, 1.3)]
    }
    found = block_mask_crossover(block)
    assert found[8]["widest_faster_window"] == 2
    assert found[8]["widest_faster_median"] == 4
    assert found[4]["widest_faster_window"] is None
    assert found[8]["ratios"] == {2: 0.2, 4: 0.9, 8: 1.5}


def test_committed_scale_bench_is_complete() -> None:
    data = results.load("bench_scale.json")
    assert [row["context"] for row in data["decode"]["rows"]] == list(DECODE_CONTEXTS)
    assert [e["n_kv_heads"] for e in data["decode"]["cache_bytes"]] == [8, 2, 1]
    assert {name for row in data["block_sparse"]["rows"] for name in row["median_s"]} == set(
        BLOCK_METHODS
    )
    assert all(row["flex_max_error"] < 1e-4 for row in data["block_sparse"]["rows"])
    assert [row["world_size"] for row in data["ring"]["rows"]] == [1, 2, 3]
    assert all(item["compile_s"] > 0 for item in data["block_sparse"]["compile"])


def test_command_line_has_the_scale_suite(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "--suite" in capsys.readouterr().out
