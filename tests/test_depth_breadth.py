"""Tests for chapter 2b's attention-only transformer and its experiment (the vote readout, the grid)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from attnbook.data.focus import make_exact_lookup
from attnbook.experiments import depth_breadth as db
from attnbook.experiments.depth_breadth import attention_vote
from attnbook.models.attention_only import AttentionOnlyTransformer


def test_forward_shapes_and_stored_attention() -> None:
    model = AttentionOnlyTransformer(11, 20, d_model=16, num_layers=3, num_heads=4)
    tokens = torch.randint(0, 11, (5, 9))
    logits = model(tokens)
    assert logits.shape == (5, 9, 11)
    assert len(model.last_weights) == 3
    for weights in model.last_weights:
        assert weights.shape == (5, 4, 9, 9)
        assert torch.allclose(weights.sum(-1), torch.ones(5, 4, 9))
        assert (weights.triu(1) == 0).all()  # causal


def test_window_attention_stays_in_window() -> None:
    model = AttentionOnlyTransformer(7, 12, d_model=8, num_layers=2, num_heads=2, window=3)
    model(torch.randint(0, 7, (2, 12)))
    offsets = torch.arange(12)[:, None] - torch.arange(12)[None, :]
    outside = (offsets < 0) | (offsets >= 3)
    for weights in model.last_weights:
        assert (weights[..., outside] == 0).all()


def test_attention_vote_temperature_limits() -> None:
    keys, labels, queries, targets = make_exact_lookup(
        256, 12, 16, 3, noise=0.1, generator=torch.Generator().manual_seed(0)
    )
    sharp = attention_vote(keys, labels, queries, 3, 0.01)
    flat = attention_vote(keys, labels, queries, 3, 1e6)
    assert torch.allclose(sharp.sum(-1), torch.ones(256))
    assert (sharp.argmax(-1) == targets).float().mean() > 0.99
    counts = torch.nn.functional.one_hot(labels, 3).float().mean(1)
    assert torch.allclose(flat, counts, atol=1e-4)


def tiny_config() -> dict:
    config = copy.deepcopy(db.CONFIG)
    for name in ("induction", "reach", "mqar"):
        config[name].update(steps=2, seeds=[0], eval_size=16, batch_size=8)
    config["induction"]["layers"] = [1]
    config["reach"].update(layers=[1], windows=[3])
    config["balance"]["shapes"] = [[1, 8]]
    config["mqar"]["heads"] = [2]
    config["focus"].update(seeds=[0], eval_size=32, temperatures=[0.01, 1.0])
    config["receptive_field"].update(layers=[2], windows=[3])
    return config


def test_run_all_tiny_config_has_every_section() -> None:
    report = db.run_all(tiny_config(), progress=False)
    results = report["results"]
    assert set(results) == {"receptive_field", "induction", "reach", "mqar", "balance", "focus"}
    assert results["receptive_field"] == [{"layers": 2, "window": 3, "measured": 5, "formula": 5}]
    assert len(results["mqar"][0]["entropy"]) == 2 and len(results["mqar"][0]["entropy"][0]) == 2
    assert len(results["focus"][0]["exact"]) == 2
    assert len(results["reach"][0]["accuracy"]) == db.CONFIG["reach"]["length"] - 1
    assert [row["task"] for row in results["balance"]] == ["induction", "mqar"]
    assert all(row["parameters"] > 0 for row in results["balance"])
    json.dumps(report)


def test_merge_report_replaces_only_rerun_sections() -> None:
    config = tiny_config()
    full = db.run_all(config, progress=False)
    again = db.run_all(config, sections=["focus"], progress=False)
    assert set(again["results"]) == {"focus"}
    merged = db.merge_report(full, again, config)
    assert list(merged["results"]) == list(config)
    assert merged["results"]["focus"] == again["results"]["focus"]
    changed = copy.deepcopy(config)
    changed["reach"]["steps"] = 3
    with pytest.raises(ValueError, match="changed configuration"):
        db.merge_report(full, again, changed)
    with pytest.raises(ValueError, match="balance"):
        db.merge_report(full, db.run_all(config, sections=["induction"], progress=False), config)
    with pytest.raises(ValueError, match="code changed"):
        db.merge_report(dict(full, code="0" * 16), again, config)
    with pytest.raises(ValueError, match="unknown sections"):
        db.run_all(config, sections=["nope"])


def test_code_fingerprint_ignores_docs_but_not_code(tmp_path, monkeypatch) -> None:
    module = tmp_path / "fp_probe.py"
    module.write_text('"""Doc."""\n\ndef f(x):\n    """Doc."""\n    return x + 1\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    first = db.code_fingerprint(["fp_probe"])
    module.write_text('"""Other doc."""\n# a comment\n\n\ndef f(x):\n    return x + 1  # same\n')
    assert db.code_fingerprint(["fp_probe"]) == first
    module.write_text("def f(x):\n    return x + 2\n")
    assert db.code_fingerprint(["fp_probe"]) != first
    assert len(db.code_fingerprint()) == 16
    with pytest.raises(ValueError, match="not found"):
        db.code_fingerprint(["attnbook.no_such_module"])


def test_spread_interval() -> None:
    assert db.spread_interval([0.7, 0.8, 0.75]) == pytest.approx((0.6, 0.9))
    assert db.spread_interval([0.5, 0.5], floor=0.02) == pytest.approx((0.48, 0.52))
    with pytest.raises(ValueError, match="at least 2"):
        db.spread_interval([0.5])
    with pytest.raises(ValueError, match="floor"):
        db.spread_interval([0.5, 0.6], floor=-1)


def test_main_writes_json(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(db, "CONFIG", tiny_config())
    out = tmp_path / "r.json"
    assert db.main(["--out", str(out)]) == 0
    assert json.loads(out.read_text())["config"] == json.loads(json.dumps(db.CONFIG))


def test_committed_results_match_current_config() -> None:
    """src/attnbook/results/depth_breadth.json must be regenerated whenever CONFIG changes."""
    assert db.DEFAULT_OUT.exists(), "run: python -m attnbook.experiments depth-breadth"
    committed = json.loads(db.DEFAULT_OUT.read_text())
    assert committed["config"] == json.loads(json.dumps(db.CONFIG))
    assert committed["code"] == db.code_fingerprint(), (
        "the grid's code changed since src/attnbook/results/depth_breadth.json was made: "
        "run python -m attnbook.experiments depth-breadth"
    )
    rf = committed["results"]["receptive_field"]
    assert all(row["measured"] == row["formula"] for row in rf)


BAD_INPUT = [
    (AttentionOnlyTransformer, (0, 10), {}, ValueError, "vocab_size"),
    (AttentionOnlyTransformer, (5, 10), {"d_model": 10, "num_heads": 3}, ValueError, "divisible"),
    (AttentionOnlyTransformer, (5, 10), {"window": 0}, ValueError, "window"),
    (AttentionOnlyTransformer, (5, 10), {"num_layers": 1.5}, TypeError, "num_layers"),
    (
        lambda: AttentionOnlyTransformer(5, 4)(torch.zeros(1, 3)),
        (),
        {},
        TypeError,
        "int64",
    ),
    (
        lambda: AttentionOnlyTransformer(5, 4)(torch.zeros(3, dtype=torch.long)),
        (),
        {},
        ValueError,
        r"\(batch, length\)",
    ),
    (
        lambda: AttentionOnlyTransformer(5, 4)(torch.zeros(1, 6, dtype=torch.long)),
        (),
        {},
        ValueError,
        "max_len",
    ),
    (
        lambda: AttentionOnlyTransformer(5, 4)(torch.full((1, 3), 5)),
        (),
        {},
        ValueError,
        "token ids",
    ),
    (
        attention_vote,
        (torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 5), 2, 1.0),
        {},
        ValueError,
        "queries",
    ),
    (
        attention_vote,
        (torch.zeros(2, 3, 4), torch.zeros(2, 3), torch.zeros(2, 4), 2, 1.0),
        {},
        TypeError,
        "labels",
    ),
    (
        attention_vote,
        (torch.zeros(2, 3, 4), torch.full((2, 3), 2), torch.zeros(2, 4), 2, 1.0),
        {},
        ValueError,
        "labels must lie",
    ),
    (
        attention_vote,
        (torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 4), 2, 0.0),
        {},
        ValueError,
        "temperature",
    ),
    (
        db.masked_accuracy,
        (torch.zeros(1, 2, 3), torch.full((1, 2), -100)),
        {},
        ValueError,
        "no scored",
    ),
]


@pytest.mark.parametrize(("fn", "args", "kwargs", "error", "fragment"), BAD_INPUT)
def test_bad_input(fn, args, kwargs, error, fragment) -> None:
    with pytest.raises(error, match=fragment):
        fn(*args, **kwargs)


def test_notebook_is_executed_in_order_with_outputs() -> None:
    """nbval only checks stored outputs, so the committed notebook must have been run top to bottom."""
    import nbformat

    path = Path(__file__).resolve().parents[1] / "book" / "02b_depth_and_breadth.ipynb"
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    assert all(
        cell.outputs for cell in code if "plt.show()" in cell.source or "print(" in cell.source
    )
    assert notebook.cells[0].source.startswith("# 2b · Depth and breadth — ")
