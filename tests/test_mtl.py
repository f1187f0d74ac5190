"""Tests for attnbook.mtl (weightings, Δm%, trainer), attnbook.models.multitask, the mtl grid."""

from __future__ import annotations

import json
import math

import pytest
import torch

from attnbook.experiments import mtl as grid
from attnbook.models.multitask import HardSharingNet, MTANNet, TaskHead
from attnbook.mtl import (
    WEIGHTINGS,
    Task,
    delta_m,
    dwa_weights,
    evaluate_tasks,
    gradnorm_balance_point,
    gradnorm_targets,
    gradnorm_weight_grad,
    make_weighting,
    pcgrad,
    seed_interval,
    task_gradient_norms,
    train_multitask,
    uncertainty_loss,
)
from attnbook.train import count_parameters


# --------------------------------------------------------------- each formula, checked by hand
def test_uncertainty_loss_hand_case() -> None:
    # regression: 1/2 · e^0 · 2 + 0/2 = 1; classification: e^{-ln 2} · 3 + ln 2 / 2 = 1.5 + 0.3466
    losses = torch.tensor([2.0, 3.0])
    log_vars = torch.tensor([0.0, math.log(2.0)])
    total = uncertainty_loss(losses, log_vars, [True, False])
    assert total.item() == pytest.approx(1.0 + 1.5 + 0.5 * math.log(2.0))


def test_uncertainty_optimum_is_the_loss_itself() -> None:
    # d/ds [c e^{-s} L + s/2] = 0  at  e^{s} = 2 c L: σ² tracks the task's loss
    log_vars = torch.tensor([math.log(2 * 0.5 * 40.0), math.log(2 * 1.0 * 0.3)], requires_grad=True)
    uncertainty_loss(torch.tensor([40.0, 0.3]), log_vars, [True, False]).backward()
    assert torch.allclose(log_vars.grad, torch.zeros(2), atol=1e-6)


def test_dwa_hand_case() -> None:
    # ratios [1, 2]; 2 · softmax([0.5, 1.0]) = [0.7551, 1.2449]
    weights = dwa_weights(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 1.0]), temperature=2.0)
    e1, e2 = math.exp(0.5), math.exp(1.0)
    assert weights.tolist() == pytest.approx([2 * e1 / (e1 + e2), 2 * e2 / (e1 + e2)])
    assert weights.sum().item() == pytest.approx(2.0)
    assert dwa_weights(torch.tensor([3.0, 1.0, 2.0]), None).tolist() == [1.0, 1.0, 1.0]


def test_gradnorm_hand_case() -> None:
    # G = [1, 3], mean 2; L/L0 = [0.5, 1], relative [2/3, 4/3]; α = 1: target [4/3, 8/3]
    # sign(G − target) = [−1, +1], times ‖∇L_t‖ = [1, 3]  ->  [−1, 3]
    norms = torch.tensor([1.0, 3.0])
    args = (norms, torch.ones(2), torch.ones(2), torch.tensor([2.0, 1.0]))
    assert gradnorm_weight_grad(*args, alpha=1.0).tolist() == pytest.approx([-1.0, 3.0])


def test_gradnorm_equals_autograd_of_its_loss() -> None:
    norms, losses, initial = (
        torch.tensor([0.5, 2.0, 1.0]),
        torch.tensor([1.0, 0.4, 0.8]),
        torch.ones(3),
    )
    w = torch.tensor([1.2, 0.7, 1.1], requires_grad=True)
    weighted = w * norms
    rate = losses / initial
    target = (weighted.mean() * (rate / rate.mean()) ** 1.5).detach()
    (weighted - target).abs().sum().backward()
    ours = gradnorm_weight_grad(norms, w.detach(), losses, initial, alpha=1.5)
    assert torch.allclose(ours, w.grad)


def test_gradnorm_targets_hand_case() -> None:
    # as above: G = [1, 3], target [4/3, 8/3]
    achieved, target = gradnorm_targets(
        torch.tensor([1.0, 3.0]), torch.ones(2), torch.ones(2), torch.tensor([2.0, 1.0]), 1.0
    )
    assert achieved.tolist() == pytest.approx([1.0, 3.0])
    assert target.tolist() == pytest.approx([4 / 3, 8 / 3])


def test_gradnorm_balance_point_equalises_the_norms() -> None:
    # norms [1, 4]: w ∝ [1, 1/4], sum 2 -> [1.6, 0.4]; then w · norms = [1.6, 1.6]
    norms = torch.tensor([1.0, 4.0])
    w = gradnorm_balance_point(norms)
    assert w.tolist() == pytest.approx([1.6, 0.4])
    achieved, target = gradnorm_targets(norms, w, torch.ones(2), torch.ones(2), alpha=1.5)
    assert torch.allclose(achieved, target)
    assert torch.allclose(gradnorm_weight_grad(norms, w, torch.ones(2), torch.ones(2)) * 0, 0 * w)


def test_pcgrad_hand_case() -> None:
    # g1 · g2 = −1 < 0: g1 -> g1 + g2/2 = [0.5, 0.5]; g2 -> g2 + g1 = [0, 1]; sum [0.5, 1.5]
    grads = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])
    assert pcgrad(grads).tolist() == pytest.approx([0.5, 1.5])
    # without conflict the gradients are simply summed
    assert pcgrad(torch.tensor([[1.0, 0.0], [1.0, 1.0]])).tolist() == pytest.approx([2.0, 1.0])


def test_pcgrad_projection_is_orthogonal() -> None:
    grads = torch.tensor([[2.0, 1.0, 0.0], [-1.0, 0.5, 3.0]])
    g1 = pcgrad(grads[:1].clone())  # one task: nothing to project
    assert torch.allclose(g1, grads[0])
    combined = pcgrad(grads)
    projected_first = combined - (
        grads[1] - (grads[1] @ grads[0]) / grads[0].pow(2).sum() * grads[0]
    )
    assert abs(float(projected_first @ grads[1])) < 1e-5


def test_delta_m_hand_case() -> None:
    # accuracy 0.8 -> 0.9: +12.5 %; error 2.5 -> 2.0 (lower is better): +20 %; mean 16.25 %
    value = delta_m({"acc": 0.9, "mae": 2.0}, {"acc": 0.8, "mae": 2.5}, {"acc": True, "mae": False})
    assert value == pytest.approx(16.25)
    same = delta_m({"a": 0.5}, {"a": 0.5}, {"a": True})
    assert same == 0.0


# --------------------------------------------------------------- models and trainer
def _tiny_data(n: int = 64) -> tuple[torch.Tensor, list[torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 12, 12, generator=g)
    return x, [torch.randint(0, 10, (n,), generator=g), x.sum(dim=(1, 2, 3)) * 16]


TASKS = [Task("digit", "classification"), Task("ink", "regression")]
HEADS = [("classification", 10), ("regression", (1150.0, 40.0))]


@pytest.mark.parametrize("net", [HardSharingNet, MTANNet])
def test_model_shapes(net: type) -> None:
    model = net(HEADS)
    logits, ink = model(torch.rand(5, 1, 12, 12))
    assert logits.shape == (5, 10) and ink.shape == (5,)
    assert len(list(model.shared_parameters())) == 12  # 3 convs and 3 GroupNorms
    assert model.last_shared_layer() is model.backbone.stage2[3]


def test_most_parameters_are_shared() -> None:
    # pooled features keep the heads small: the backbone holds most of each network
    single, hard = HardSharingNet(HEADS[:1]), HardSharingNet(HEADS + HEADS[:1])
    for model in (single, hard):
        assert count_parameters(model.shared_parameters()) > 0.65 * count_parameters(
            model.parameters()
        )
    assert all(count_parameters(head.parameters()) < 2500 for head in hard.heads)
    mtan = MTANNet(HEADS)
    assert count_parameters(mtan.attention_parameters()) < count_parameters(
        mtan.shared_parameters()
    )


def test_mtan_masks_are_in_unit_interval() -> None:
    masks = MTANNet(HEADS).masks(torch.rand(3, 1, 12, 12))
    assert (
        len(masks) == 2
        and masks[0][0].shape == (3, 16, 6, 6)
        and masks[0][1].shape == (3, 32, 6, 6)
    )
    assert all(0 <= float(m.min()) and float(m.max()) <= 1 for pair in masks for m in pair)


def test_regression_head_starts_in_natural_units() -> None:
    head = TaskHead(8, ("regression", (500.0, 50.0)))
    torch.nn.init.zeros_(head.net[-1].weight)
    torch.nn.init.zeros_(head.net[-1].bias)
    assert head(torch.rand(4, 2, 2, 2)).tolist() == [500.0] * 4


@pytest.mark.parametrize("weighting", WEIGHTINGS)
def test_trainer_runs_every_weighting(weighting: str) -> None:
    x, targets = _tiny_data()
    torch.manual_seed(0)
    model = HardSharingNet(HEADS)
    history = train_multitask(
        model, x, targets, TASKS, weighting=weighting, epochs=3, batch_size=32, progress=False
    )
    weights = [history.series(f"weight/{t.name}") for t in TASKS]
    assert len(weights[0]) == 3
    if weighting in ("equal", "pcgrad"):
        assert weights == [[1.0] * 3, [1.0] * 3]
    if weighting == "dwa":
        assert weights[0][:2] == [1.0, 1.0]
        assert weights[0][2] + weights[1][2] == pytest.approx(2.0)
    if weighting == "gradnorm":
        assert weights[0][-1] + weights[1][-1] == pytest.approx(2.0, abs=1e-4)
    if weighting == "pcgrad":
        assert history.pairs == 3 * 2 and 0 <= history.conflicts <= history.pairs
    metrics = evaluate_tasks(model, x, targets, TASKS)
    assert set(metrics) == {"digit", "ink"} and 0 <= metrics["digit"] <= 1


def test_static_weights_scale_the_losses() -> None:
    # ones give "equal"; an ink weight 1/std² on natural units is the standardised target
    x, targets = _tiny_data()
    runs = []
    for weights in (None, [1.0, 1.0], [1.0, 1e-3]):
        torch.manual_seed(0)
        model = HardSharingNet(HEADS)
        history = train_multitask(
            model,
            x,
            targets,
            TASKS,
            epochs=2,
            batch_size=32,
            progress=False,
            static_weights=weights,
        )
        runs.append(history)
    assert runs[0].records == runs[1].records
    assert runs[2].series("weight/ink") == pytest.approx([1e-3, 1e-3])
    assert runs[2].series("loss/digit") != runs[0].series("loss/digit")


def test_gradnorm_records_achieved_norms_and_targets() -> None:
    x, targets = _tiny_data()
    torch.manual_seed(0)
    history = train_multitask(
        HardSharingNet(HEADS),
        x,
        targets,
        TASKS,
        weighting="gradnorm",
        epochs=2,
        batch_size=32,
        progress=False,
    )
    achieved = [history.series(f"gradnorm_G/{t.name}") for t in TASKS]
    target = [history.series(f"gradnorm_target/{t.name}") for t in TASKS]
    assert all(v > 0 for series in achieved + target for v in series)
    # the targets average to the mean achieved norm at every step while r_t^α averages to 1 (α = 0)
    torch.manual_seed(0)
    flat = train_multitask(
        HardSharingNet(HEADS),
        x,
        targets,
        TASKS,
        weighting="gradnorm",
        epochs=1,
        batch_size=32,
        alpha=0.0,
        progress=False,
    )
    g = [flat.series(f"gradnorm_G/{t.name}")[0] for t in TASKS]
    tg = [flat.series(f"gradnorm_target/{t.name}")[0] for t in TASKS]
    assert tg[0] == pytest.approx(tg[1]) and tg[0] == pytest.approx(sum(g) / 2, rel=1e-5)


def test_task_gradient_norms_match_autograd() -> None:
    x, targets = _tiny_data(16)
    torch.manual_seed(0)
    model = HardSharingNet(HEADS)
    norms = task_gradient_norms(model, x, targets, TASKS)
    loss = TASKS[1].loss(model(x)[1], targets[1])
    grads = torch.autograd.grad(loss, list(model.shared_parameters()))
    assert norms[1].item() == pytest.approx(torch.cat([g.flatten() for g in grads]).norm().item())
    assert all(p.grad is None for p in model.parameters())
    layer = task_gradient_norms(
        model, x, targets, TASKS, list(model.last_shared_layer().parameters())
    )
    assert bool((layer <= norms).all())


def test_trainer_is_deterministic() -> None:
    x, targets = _tiny_data()
    results = []
    for _ in range(2):
        torch.manual_seed(0)
        model = HardSharingNet(HEADS)
        history = train_multitask(model, x, targets, TASKS, epochs=2, batch_size=32, progress=False)
        results.append(history.series("loss/ink"))
    assert results[0] == results[1]


# --------------------------------------------------------------- the committed grid
def test_committed_results_come_from_current_config_and_code() -> None:
    data = json.loads(grid.DEFAULT_OUT.read_text())
    assert data["config"] == json.loads(json.dumps(grid.CONFIG))
    assert data["code_fingerprint"] == grid.code_fingerprint(), (
        "the code the grid runs (or its data) changed since src/attnbook/results/mtl.json was written: "
        "re-run `python -m attnbook.experiments mtl`"
    )
    cells = [
        (r["task_set"], r["arch"], r["weighting"], r["seed"], r.get("ink_weight"))
        for r in data["rows"]
    ]
    expected = {
        (name, arch, w, s, ink)
        for name, spec in grid.CONFIG["grid"].items()
        for arch in spec["archs"]
        for w in grid.cell_weightings(spec)
        for s in grid.CONFIG["seeds"]
        for ink in spec.get("ink_weights", [None])
    }
    assert len(cells) == len(set(cells)) and set(cells) == expected
    tuning = grid.CONFIG["tuning"]
    trials = {(r["arch"], r["weighting"], json.dumps(r["hyper"])) for r in data["tuning"]}
    assert trials == {
        (arch, w, json.dumps(h))
        for arch in tuning["archs"]
        for w in tuning["options"]
        for h in grid.hyper_options(w)
    }


def test_tuned_cells_use_the_knob_with_the_best_validation_score() -> None:
    # selection reads validation Δm% only, on the tuning seed, which no grid row uses
    data = json.loads(grid.DEFAULT_OUT.read_text())
    assert data["config"]["tuning"]["seed"] not in data["config"]["seeds"]
    for arch, chosen in data["selected"].items():
        for weighting, hyper in chosen.items():
            trials = [r for r in data["tuning"] if (r["arch"], r["weighting"]) == (arch, weighting)]
            best = max(trials, key=lambda r: r["val_delta_m"])
            assert hyper == best["hyper"]
            used = {
                json.dumps(r["hyper"])
                for r in data["rows"]
                if (r["task_set"], r["weighting"]) == ("digits+ink", weighting)
                and r["arch"] in ((arch, "hard-wide") if arch == "hard" else (arch,))
            }
            assert used == {json.dumps(hyper)}


def test_every_tuned_knob_is_one_run_cell_accepts() -> None:
    knobs = {"weight_lr", "gradnorm_alpha", "dwa_temperature"}
    options = grid.CONFIG["tuning"]["options"]
    assert set(options) <= set(WEIGHTINGS) and all(set(v) <= knobs for v in options.values())
    assert len(grid.hyper_options("gradnorm")) == math.prod(map(len, options["gradnorm"].values()))
    assert grid.hyper_options("equal") == [{}]


def test_wide_hard_sharing_matches_the_mtan_parameter_count() -> None:
    heads = [("classification", 10), ("classification", 10), ("regression", (0.0, 1.0))]
    shape = {"canvas": grid.CONFIG["canvas"], "pool": grid.CONFIG["pool"]}
    shape["hidden"] = grid.CONFIG["head_hidden"]
    mtan = count_parameters(MTANNet(heads, channels=tuple(grid.CONFIG["channels"]), **shape))
    wide = HardSharingNet(heads, channels=tuple(grid.CONFIG["wide_channels"]), **shape)
    hard = HardSharingNet(heads, channels=tuple(grid.CONFIG["channels"]), **shape)
    assert abs(count_parameters(wide) - mtan) < 0.01 * mtan < mtan - count_parameters(hard)


def test_grid_cell_lands_inside_the_committed_seed_spread() -> None:
    # Bits differ between CPUs (AVX2 and AVX-512 disagree from the first step), so a re-run
    # cannot reproduce one committed value: it is one more draw, and must fall inside the
    # 99.9 % prediction interval of the committed seeds (seed_interval).
    data = json.loads(grid.DEFAULT_OUT.read_text())
    found = grid.select_rows(data["rows"], task_set="digits", arch="hard", weighting="equal")
    assert len(found) == len(grid.CONFIG["seeds"])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the grid runs
    try:
        result = grid.run_cell("hard", "equal", ["left", "right"], 0, grid.load_task_data())
        assert set(result["val_metrics"]) == {"left", "right"}
    finally:
        torch.set_num_threads(threads)
    for task in ("left", "right"):
        low, high = seed_interval([r["metrics"][task] for r in found])
        assert low < result["metrics"][task] < high, (task, low, high, result["metrics"][task])


def test_seed_interval_hand_case() -> None:
    # values 1, 2, 3: mean 2, std 1, n = 3; t(0.975, 2) = 4.3027; half = 4.3027 · √(4/3) = 4.9683
    low, high = seed_interval([1.0, 2.0, 3.0], level=0.95)
    assert (low, high) == pytest.approx((2 - 4.9683, 2 + 4.9683), abs=1e-3)
    with pytest.raises(ValueError, match="at least 2"):
        seed_interval([1.0])


def test_grid_fingerprint_has_16_hex_digits() -> None:
    assert len(grid.code_fingerprint()) == 16
    int(grid.code_fingerprint(), 16)


# --------------------------------------------------------------- bad input
BAD_INPUTS = [
    (uncertainty_loss, (torch.ones(2), torch.zeros(3), [True, False]), ValueError, "T entries"),
    (uncertainty_loss, (torch.ones(2, 2), torch.zeros(2), [True]), ValueError, "1-D tensor"),
    (uncertainty_loss, (torch.tensor([1.0, math.nan]), torch.zeros(2), [1, 0]), ValueError, "NaN"),
    (dwa_weights, (None, None), ValueError, "at least one loss"),
    (dwa_weights, (torch.ones(2), torch.ones(3)), ValueError, "must match"),
    (dwa_weights, (torch.ones(2), torch.zeros(2)), ValueError, "before must be > 0"),
    (dwa_weights, (torch.ones(2), torch.ones(2), 0.0), ValueError, "temperature"),
    (dwa_weights, (torch.ones(2, dtype=torch.int64), torch.ones(2)), TypeError, "floating-point"),
    (
        gradnorm_weight_grad,
        (torch.ones(2), torch.ones(3), torch.ones(2), torch.ones(2)),
        ValueError,
        "must match",
    ),
    (
        gradnorm_weight_grad,
        (torch.ones(2), torch.ones(2), torch.ones(2), torch.zeros(2)),
        ValueError,
        "initial_losses",
    ),
    (gradnorm_weight_grad, (torch.ones(2),) * 4 + (-1.0,), ValueError, "alpha"),
    (pcgrad, (torch.ones(3),), ValueError, "(T, P)"),
    (pcgrad, (torch.ones(2, 3, dtype=torch.int64),), TypeError, "floating-point"),
    (pcgrad, (torch.ones(2, 3), [[1], [1]]), ValueError, "every other task"),
    (delta_m, ({"a": 1.0}, {}, {"a": True}), ValueError, "baselines is empty"),
    (delta_m, ({"a": 1.0}, {"b": 1.0}, {"b": True}), ValueError, "missing"),
    (delta_m, ({"a": 1.0}, {"a": 0.0}, {"a": True}), ValueError, "non-zero"),
    (make_weighting, ("softmax", 2), ValueError, "weighting must be one of"),
    (make_weighting, ("equal", 0), ValueError, "n_tasks must be >= 1"),
    (Task, ("t", "ranking"), ValueError, "task kind"),
    (TaskHead, (4, ("ranking", 3)), ValueError, "head kind"),
    (TaskHead, (4, ("regression", (0.0, 0.0))), ValueError, "std must be > 0"),
    (HardSharingNet, ([],), ValueError, "at least one head"),
    (HardSharingNet, (HEADS, 12, (16, 32), 0), ValueError, "pool"),
    (MTANNet, (HEADS, 12, (16, 32), 2, 0), ValueError, "hidden"),
    (MTANNet(HEADS), (torch.rand(2, 3, 12, 12),), ValueError, r"\(B, 1, H, W\)"),
    (HardSharingNet(HEADS), (torch.ones(2, 1, 12, 12, dtype=torch.int64),), TypeError, "floating"),
    (
        train_multitask,
        (HardSharingNet(HEADS), torch.rand(4, 1, 12, 12), [torch.ones(3)], TASKS[:1]),
        ValueError,
        "one target",
    ),
    (
        lambda: train_multitask(
            HardSharingNet(HEADS[:1]),
            torch.rand(4, 1, 12, 12),
            [torch.zeros(4, dtype=torch.int64)],
            TASKS[:1],
            weighting="max",
        ),
        (),
        ValueError,
        "weighting must be one of",
    ),
    (grid.run_cell, ("wide", "equal", ["left"], 0, None), ValueError, "arch must be"),
    (
        lambda: grid.run_cell("hard", "equal", ["left"], 0, (None,) * 4, hyper={"lr": 1.0}),
        (),
        ValueError,
        "hyper may set",
    ),
    (gradnorm_balance_point, (torch.tensor([1.0, 0.0]),), ValueError, "grad_norms must be > 0"),
    (
        lambda: train_multitask(
            HardSharingNet(HEADS),
            *_tiny_data(8),
            TASKS,
            weighting="dwa",
            static_weights=[1.0, 0.1],
            progress=False,
        ),
        (),
        ValueError,
        "static_weights need weighting='equal'",
    ),
    (
        lambda: train_multitask(
            HardSharingNet(HEADS), *_tiny_data(8), TASKS, static_weights=[1.0], progress=False
        ),
        (),
        ValueError,
        "2 finite numbers > 0",
    ),
]


@pytest.mark.parametrize(("fn", "args", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(fn, args, error, fragment) -> None:
    with pytest.raises(error, match=fragment):
        fn(*args)


def test_select_rows_matches_every_field_and_absent_fields_as_none() -> None:
    rows = [
        {"task_set": "digits", "arch": "hard", "seed": 0},
        {"task_set": "digits", "arch": "mtan", "seed": 0},
        {"task_set": "digits", "arch": "hard", "seed": 1, "ink_weight": 0.1},
    ]
    assert grid.select_rows(rows, arch="hard") == [rows[0], rows[2]]
    assert grid.select_rows(rows, arch="hard", ink_weight=None) == [rows[0]]
    assert grid.select_rows(rows, arch="hard", seed=1, ink_weight=0.1) == [rows[2]]
    assert grid.select_rows(rows, arch="none") == []
