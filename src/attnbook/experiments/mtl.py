"""The multi-task grid of chapter 9a: `python -m attnbook.experiments mtl [--out PATH]`.

Task sets on MultiDigits (``attnbook.data.multidigits``):

* ``digits``: left digit and right digit (two classification tasks on the same scale);
* ``digits+ink``: the same plus the canvas's ink in load_digits grey levels (0-16 per pixel),
  a regression whose squared error is thousands of times larger than a cross-entropy;
* ``digits+ink/sd``: the control: the same three tasks with the ink target standardised
  (task ``ink_scaled`` = (ink - mean) / std of the training ink), trained with equal weights
  only; its ink MAE is converted back to grey levels (stored as ``ink``) for Δm%;
* ``digits+ink/static``: a sweep of static ink weights (digits weighted 1), the protocol of
  Xin et al. 2022; the weight 1 is the ``digits+ink`` equal-weights cell.

Architectures: single-task networks (one per task), hard sharing, hard sharing widened to the
MTAN-style network's parameter count (``hard-wide``, MTAN's "split, wide" control) and MTAN-style
attention; weightings: equal, uncertainty, DWA, GradNorm, PCGrad. Each adaptive weighting's knob
(uncertainty's and GradNorm's weight learning rate, GradNorm's α, DWA's temperature) is first
tuned per architecture on the validation split, on a seed of its own; the grid then runs every
cell for each seed. Validation metrics are what is selected on; the test metrics of every trained
model are computed once, at the end of its training. Δm% is against the single-task networks of
the same seed (on validation and on test), and the per-epoch task weights and PCGrad's conflict
counts are written to a JSON file together with ``CONFIG`` and ``code_fingerprint()``, so that a
test can check the committed results came from the current configuration and code.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import itertools
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from attnbook import mtl, seeding
from attnbook.data.multidigits import make_multidigits
from attnbook.experiments.fingerprint import code_only
from attnbook.models import multitask
from attnbook.models.multitask import HardSharingNet, MTANNet
from attnbook.mtl import WEIGHTINGS, Task, delta_m, evaluate_tasks, train_multitask
from attnbook.results import RESULTS_DIR
from attnbook.train import seed_everything

__all__ = [
    "CONFIG",
    "DEFAULT_OUT",
    "cell_weightings",
    "code_fingerprint",
    "hyper_options",
    "load_task_data",
    "main",
    "metric_name",
    "run_cell",
    "run_grid",
    "select_rows",
]

DEFAULT_OUT = RESULTS_DIR / "mtl.json"

CONFIG: dict[str, Any] = {
    "data_seed": 0,
    "n_train": 4000,
    "n_val": 1000,
    "n_test": 1000,
    "canvas": 12,
    "channels": [16, 32],
    "wide_channels": [18, 36],  # hard sharing with the MTAN-style network's parameter count
    "pool": 2,
    "head_hidden": 16,
    "epochs": 10,
    "batch_size": 64,
    "lr": 0.002,
    "weight_lr": 0.025,
    "gradnorm_alpha": 1.5,
    "dwa_temperature": 2.0,
    "seeds": [0, 1, 2, 3, 4],
    "grid": {
        "digits": {"tasks": ["left", "right"], "archs": ["hard"]},
        "digits+ink": {
            "tasks": ["left", "right", "ink"],
            "archs": ["hard", "hard-wide", "mtan"],
            "tuned": True,
        },
        "digits+ink/sd": {
            "tasks": ["left", "right", "ink_scaled"],
            "archs": ["hard", "mtan"],
            "weightings": ["equal"],
        },
        "digits+ink/static": {
            "tasks": ["left", "right", "ink"],
            "archs": ["hard"],
            "weightings": ["equal"],
            "ink_weights": [1e-4, 1e-3, 1e-2, 1e-1],
        },
    },
    "weightings": list(WEIGHTINGS),
    # each adaptive weighting's knob, chosen per architecture by validation Δm% on its own seed
    "tuning": {
        "seed": 100,
        "archs": ["hard", "mtan"],  # hard-wide uses hard sharing's choice
        "options": {
            "uncertainty": {"weight_lr": [0.005, 0.025, 0.1]},
            "dwa": {"dwa_temperature": [1.0, 2.0, 5.0]},
            "gradnorm": {"gradnorm_alpha": [0.5, 1.5], "weight_lr": [0.025, 0.1]},
        },
    },
}

TASKS: dict[str, Task] = {
    "left": Task("left", "classification"),
    "right": Task("right", "classification"),
    "ink": Task("ink", "regression"),
    "ink_scaled": Task("ink_scaled", "regression"),
}


def metric_name(task: str) -> str:
    """The metric a task is scored by: 'ink_scaled' is scored as 'ink' (grey levels)."""
    return "ink" if task == "ink_scaled" else task


def cell_weightings(spec: dict[str, Any], config: dict[str, Any] = CONFIG) -> list[str]:
    """The weightings one task set of the grid runs (its own list, else the config's)."""
    return list(spec.get("weightings", config["weightings"]))


def hyper_options(weighting: str, config: dict[str, Any] = CONFIG) -> list[dict[str, float]]:
    """Every combination of the tuned knobs of one weighting ([{}] if it has none)."""
    options = config["tuning"]["options"].get(weighting, {})
    return [
        dict(zip(options, values, strict=True)) for values in itertools.product(*options.values())
    ]


def load_task_data(
    config: dict[str, Any] = CONFIG,
) -> tuple[
    dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, tuple]
]:
    """Train, validation and test (inputs 'x' (N, 1, H, W), one target (N,) per task), head specs."""
    split = {}
    for name in ("train", "val", "test"):
        x, left, right = make_multidigits(
            name, config["data_seed"], n=config[f"n_{name}"], canvas=config["canvas"]
        )
        split[name] = {"x": x, "left": left, "right": right, "ink": x.sum(dim=(1, 2, 3)) * 16}
    ink = split["train"]["ink"]
    mean, std = ink.mean().item(), ink.std().item()
    for name in split:
        split[name]["ink_scaled"] = (split[name]["ink"] - mean) / std
    heads = {
        "left": ("classification", 10),
        "right": ("classification", 10),
        "ink": ("regression", (mean, std)),
        "ink_scaled": ("regression", (0.0, 1.0)),
    }
    return split["train"], split["val"], split["test"], heads


def _metrics(model, split: dict[str, torch.Tensor], task_names: list[str], heads: dict) -> dict:
    """Metrics of a trained model on one split, keyed by ``metric_name`` (ink in grey levels)."""
    tasks = [TASKS[name] for name in task_names]
    metrics = evaluate_tasks(model, split["x"], [split[n] for n in task_names], tasks)
    if "ink_scaled" in metrics:
        metrics["ink"] = metrics.pop("ink_scaled") * heads["ink"][1][1]
    return metrics


def run_cell(
    arch: str,
    weighting: str,
    task_names: list[str],
    seed: int,
    data: tuple[dict, dict, dict, dict],
    config: dict[str, Any] = CONFIG,
    *,
    hyper: dict[str, float] | None = None,
    static_weights: list[float] | None = None,
    epochs: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Train one architecture ('hard', 'hard-wide' or 'mtan') with one weighting; its metrics.

    ``data`` is ``load_task_data()``'s (train, val, test, heads); ``hyper`` overrides the
    config's weight_lr, gradnorm_alpha or dwa_temperature. Returns validation metrics
    ('val_metrics'), test metrics ('metrics', computed once, after training; an ``ink_scaled``
    task's MAE is reported as ``ink`` in grey levels), the history and the model.
    """
    if arch not in ("hard", "hard-wide", "mtan"):
        raise ValueError(f"arch must be 'hard', 'hard-wide' or 'mtan', got {arch!r}")
    train, val, test, heads = data
    knobs = {k: config[k] for k in ("weight_lr", "gradnorm_alpha", "dwa_temperature")}
    unknown = set(hyper or {}) - set(knobs)
    if unknown:
        raise ValueError(f"hyper may set {sorted(knobs)}, got {sorted(unknown)}")
    knobs.update(hyper or {})
    seed_everything(seed)
    net = MTANNet if arch == "mtan" else HardSharingNet
    model = net(
        [heads[n] for n in task_names],
        canvas=config["canvas"],
        channels=tuple(config["wide_channels" if arch == "hard-wide" else "channels"]),
        pool=config["pool"],
        hidden=config["head_hidden"],
    )
    history = train_multitask(
        model,
        train["x"],
        [train[n] for n in task_names],
        [TASKS[name] for name in task_names],
        weighting=weighting,
        epochs=epochs or config["epochs"],
        batch_size=config["batch_size"],
        lr=config["lr"],
        seed=seed,
        alpha=knobs["gradnorm_alpha"],
        temperature=knobs["dwa_temperature"],
        weight_lr=knobs["weight_lr"],
        static_weights=static_weights,
        progress=progress,
        description=f"{arch}/{weighting}",
    )
    return {
        "val_metrics": _metrics(model, val, task_names, heads),
        "metrics": _metrics(model, test, task_names, heads),
        "history": history.records,
        "conflict_fraction": history.conflicts / history.pairs if history.pairs else None,
        "model": model,
    }


def _row(task_set, arch, weighting, seed, result, baselines, tasks, **extra) -> dict[str, Any]:
    """One JSON row: metrics and Δm% on validation and test, task weights, PCGrad conflicts."""
    names = [metric_name(t) for t in tasks]
    better = {metric_name(t): TASKS[t].higher_is_better for t in tasks}
    row = {"task_set": task_set, "arch": arch, "weighting": weighting, "seed": seed, **extra}
    for split, key in (("val", "val_metrics"), ("test", "metrics")):
        base = {t: baselines[split][str(seed)][t] for t in names}
        prefix = "" if split == "test" else "val_"
        row[f"{prefix}metrics"] = result[key]
        row[f"{prefix}delta_m"] = delta_m(result[key], base, better)
    row["weights"] = {t: [rec[f"weight/{t}"] for rec in result["history"]] for t in tasks}
    row["conflict_fraction"] = result["conflict_fraction"]
    return row


def run_grid(config: dict[str, Any] = CONFIG, progress: bool = True) -> dict[str, Any]:
    """Single-task baselines, the validation tuning, then every (task set, arch, weighting, seed)."""
    fingerprint = code_fingerprint()  # of the code that is about to run
    data = load_task_data(config)
    plan = _grid_plan(config)
    total = len(plan["baseline_seeds"]) * len(plan["all_tasks"]) + len(plan["trials"])
    bar = tqdm(total=total + len(plan["cells"]), desc="mtl grid", disable=not progress)
    baselines = _single_task_baselines(plan, data, config, bar)
    tuning_rows, selected = _tune_on_validation(plan, data, config, baselines, bar)
    rows = _grid_rows(plan, data, config, baselines, selected, bar)
    bar.close()
    return {
        "config": config,
        "code_fingerprint": fingerprint,
        "single_task": baselines["test"],
        "single_task_val": baselines["val"],
        "tuning": tuning_rows,
        "selected": selected,
        "rows": rows,
    }


def _grid_plan(config: dict[str, Any]) -> dict[str, Any]:
    """What the grid runs: baseline seeds and tasks, tuning trials, and every grid cell."""
    tuning = config["tuning"]
    tuned_set = next(name for name, spec in config["grid"].items() if spec.get("tuned"))
    return {
        "all_tasks": sorted(
            {metric_name(t) for spec in config["grid"].values() for t in spec["tasks"]}
        ),
        "baseline_seeds": [tuning["seed"], *config["seeds"]],
        "tuned_set": tuned_set,
        "tuned_tasks": config["grid"][tuned_set]["tasks"],
        "trials": [
            (arch, w, hyper)
            for arch in tuning["archs"]
            for w in tuning["options"]
            for hyper in hyper_options(w, config)
        ],
        "cells": [
            (task_set, arch, weighting, seed, ink_weight)
            for seed in config["seeds"]
            for task_set, spec in config["grid"].items()
            for arch in spec["archs"]
            for weighting in cell_weightings(spec, config)
            for ink_weight in spec.get("ink_weights", [None])
        ],
    }


def _single_task_baselines(
    plan: dict[str, Any], data: tuple, config: dict[str, Any], bar: tqdm
) -> dict[str, dict[str, dict[str, float]]]:
    """{'val'|'test': {seed: {task: metric}}} of one hard-sharing network per task and seed."""
    baselines: dict[str, dict[str, dict[str, float]]] = {"val": {}, "test": {}}
    for seed in plan["baseline_seeds"]:
        for task in plan["all_tasks"]:
            result = run_cell("hard", "equal", [task], seed, data, config)
            for split, key in (("val", "val_metrics"), ("test", "metrics")):
                baselines[split].setdefault(str(seed), {})[task] = result[key][task]
            bar.update()
    return baselines


def _tune_on_validation(
    plan: dict[str, Any], data: tuple, config: dict[str, Any], baselines: dict, bar: tqdm
) -> tuple[list[dict[str, Any]], dict[str, dict[str, dict[str, float]]]]:
    """Every tuning trial on the tuning seed, and each (arch, weighting)'s best knob by val Δm%."""
    tuning, tuned_set, tuned_tasks = config["tuning"], plan["tuned_set"], plan["tuned_tasks"]
    tuning_rows = []
    for arch, weighting, hyper in plan["trials"]:
        result = run_cell(arch, weighting, tuned_tasks, tuning["seed"], data, config, hyper=hyper)
        row = _row(tuned_set, arch, weighting, tuning["seed"], result, baselines, tuned_tasks)
        tuning_rows.append({**row, "hyper": hyper})
        bar.update()
    selected = {
        arch: {
            w: max(
                (r for r in tuning_rows if (r["arch"], r["weighting"]) == (arch, w)),
                key=lambda r: r["val_delta_m"],
            )["hyper"]
            for w in tuning["options"]
        }
        for arch in tuning["archs"]
    }
    return tuning_rows, selected


def _grid_rows(
    plan: dict[str, Any],
    data: tuple,
    config: dict[str, Any],
    baselines: dict,
    selected: dict,
    bar: tqdm,
) -> list[dict[str, Any]]:
    """One row per grid cell, with the selected knob where the task set is tuned."""
    rows = []
    for task_set, arch, weighting, seed, ink_weight in plan["cells"]:
        start = time.perf_counter()
        spec = config["grid"][task_set]
        hyper = selected["hard" if arch == "hard-wide" else arch].get(weighting, {})
        hyper = hyper if spec.get("tuned") else {}
        static = None if ink_weight is None else [1.0, 1.0, ink_weight]
        result = run_cell(
            arch, weighting, spec["tasks"], seed, data, config, hyper=hyper, static_weights=static
        )
        extra = {"hyper": hyper} if ink_weight is None else {"ink_weight": ink_weight}
        row = _row(task_set, arch, weighting, seed, result, baselines, spec["tasks"], **extra)
        rows.append({**row, "seconds": round(time.perf_counter() - start, 2)})
        bar.update()
    return rows


# every function and class whose code decides what the grid computes
_FINGERPRINTED = (
    (seeding, ("shifted", "seed_offset", "torch_generator", "numpy_rng", "seed_everything")),
    (multitask, ("Backbone", "_groups", "TaskHead", "HardSharingNet", "_AttentionMask", "MTANNet")),
    (
        mtl,
        (
            "uncertainty_loss",
            "dwa_weights",
            "gradnorm_weight_grad",
            "gradnorm_targets",
            "pcgrad",
            "delta_m",
            "Task",
            "make_weighting",
            "evaluate_tasks",
            "_flat_grad",
            "train_multitask",
            "_check_training",
            "_Run",
        ),
    ),
    (
        None,
        (
            "metric_name",
            "cell_weightings",
            "hyper_options",
            "load_task_data",
            "_metrics",
            "run_cell",
            "_row",
            "run_grid",
            "_grid_plan",
            "_single_task_baselines",
            "_tune_on_validation",
            "_grid_rows",
        ),
    ),
)


def select_rows(rows: Sequence[dict[str, Any]], **match: object) -> list[dict[str, Any]]:
    """The grid rows whose fields equal `match` (task_set=..., arch=..., seed=...); absent = None."""
    return [row for row in rows if all(row.get(key) == value for key, value in match.items())]


def code_fingerprint() -> str:
    """SHA-256 (16 hex digits) of the code the grid runs and of its data (train, val, test).

    Comments, docstrings and layout are ignored; the data are hashed instead of the code that
    makes them, so that harmless edits of ``attnbook.data.multidigits`` do not count. The data
    depend on ATTNBOOK_SEED_OFFSET: the committed grid's fingerprint is the one without an offset.
    """
    digest = hashlib.sha256()
    here = globals()
    for module, names in _FINGERPRINTED:
        for name in names:
            obj = here[name] if module is None else getattr(module, name)
            digest.update(name.encode())
            digest.update(code_only(inspect.getsource(obj)).encode())
    for part in load_task_data(CONFIG)[:3]:
        for name in sorted(part):
            digest.update(name.encode())
            digest.update(part[name].numpy().tobytes())
    digest.update(json.dumps({k: v.kind for k, v in TASKS.items()}).encode())
    return digest.hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    """Run the grid and write the JSON (default src/attnbook/results/mtl.json)."""
    parser = argparse.ArgumentParser(prog="python -m attnbook.experiments mtl")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    results = run_grid(CONFIG)
    results["total_seconds"] = round(time.perf_counter() - start, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out} ({len(results['rows'])} runs, {results['total_seconds']} s)")
    return 0
