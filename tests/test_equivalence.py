"""attnbook.experiments.equivalence: the exact comparison behind the tools' refactor checks."""

from __future__ import annotations

import torch

from attnbook.experiments.equivalence import equal, main


def test_equal_is_exact_through_nesting() -> None:
    run = {"losses": [0.5, float("nan")], "weights": (torch.ones(2), {"bias": torch.zeros(1)})}
    same = {"losses": [0.5, float("nan")], "weights": (torch.ones(2), {"bias": torch.zeros(1)})}
    assert equal(run, same)
    nudged = {"losses": [0.5, float("nan")], "weights": (torch.ones(2), {"bias": torch.zeros(1)})}
    nudged["weights"][1]["bias"] += 1e-30  # the smallest change still counts
    assert not equal(run, nudged)
    assert not equal(torch.ones(2), torch.ones(2, dtype=torch.float64))  # dtype counts
    assert not equal(torch.ones(2), torch.ones(1, 2))  # shape counts
    assert not equal([1.0, 2.0], [1.0])
    assert not equal({"a": 1}, {"b": 1})


def test_save_then_compare(tmp_path, capsys) -> None:
    before, after, other = (str(tmp_path / name) for name in ("a.pt", "b.pt", "c.pt"))
    assert main(["save", before], lambda: {"run": torch.arange(3.0)}, "usage") == 0
    assert main(["save", after], lambda: {"run": torch.arange(3.0)}, "usage") == 0
    assert main(["save", other], lambda: {"run": torch.arange(3.0) + 1}, "usage") == 0
    assert main(["compare", before, after], dict, "usage") == 0
    assert main(["compare", before, other], dict, "usage") == 1
    assert "differs" in capsys.readouterr().out
    assert main(["frobnicate"], dict, "usage: save | compare") == 2
