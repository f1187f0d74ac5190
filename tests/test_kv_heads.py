"""attnbook.experiments.kv_heads: the committed JSON came from the current code and config."""

from __future__ import annotations

from attnbook import results
from attnbook.experiments import EXPERIMENTS
from attnbook.experiments.kv_heads import CONFIG, code_fingerprint, run_kv_heads


def test_committed_results_come_from_current_config_and_code() -> None:
    data = results.load("kv_heads.json")
    assert data["config"] == CONFIG
    assert data["code"] == code_fingerprint(), (
        "the code the kv-heads grid runs changed since kv_heads.json was written: re-run "
        "`python -m attnbook.experiments kv-heads`"
    )
    cells = {(r["n_kv_heads"], r["seed"]) for r in data["rows"]}
    assert cells == {(g, s) for g in CONFIG["kv_heads"] for s in CONFIG["seeds"]}
    assert len(CONFIG["seeds"]) >= 5


def test_one_tiny_cell_trains_and_reports() -> None:
    tiny = CONFIG | {"steps": 3, "eval_size": 16, "batch_size": 8}
    model, row = run_kv_heads(2, 0, tiny, progress=False)
    assert model.n_kv_heads == 2 and 0.0 <= row["accuracy"] <= 1.0
    assert row["cache_bytes_per_token"] == 2 * 2 * 2 * 16 * 4
    assert "kv-heads" in EXPERIMENTS
