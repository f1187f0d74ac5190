"""The multi-task grid of chapter 9a: `python -m attnbook.experiments mtl [--out PATH] [--seeds N]`.

Task sets on MultiDigits (``attnbook.data.multidigits``):

* ``digits``: left digit and right digit (two classification tasks on the same scale);
* ``digits+ink``: the same plus the canvas's ink in load_digits grey levels (0-16 per pixel),
  a regression whose squared error is thousands of times larger than a cross-entropy;
* ``digits+ink/sd``: the control: the same three tasks with the ink target standardised
  (task ``ink_scaled`` = (ink - mean) / std of the training ink), trained with equal weights
  only; its ink MAE is converted back to grey levels (stored as ``ink``) for Δm%.

Architectures: single-task networks (one per task), hard sharing, MTAN-style attention;
weightings: equal, uncertainty, DWA, GradNorm, PCGrad. Every cell is run for each seed; the
test metrics (accuracy, ink MAE), Δm% against the single-task networks of the same seed, the
per-epoch task weights and PCGrad's conflict counts are written to a JSON file together with
``CONFIG`` and ``code_fingerprint()``, so that a test can check the committed results came from
the current configuration and code.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import inspect
import json
import textwrap
import time
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from attnbook import mtl, seeding
from attnbook.data.multidigits import make_multidigits
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
    "load_task_data",
    "main",
    "metric_name",
    "run_cell",
    "run_grid",
]

DEFAULT_OUT = RESULTS_DIR / "mtl.json"

CONFIG: dict[str, Any] = {
    "data_seed": 0,
    "n_train": 4000,
    "n_test": 1000,
    "canvas": 12,
    "channels": [16, 32],
    "pool": 2,
    "head_hidden": 16,
    "epochs": 10,
    "batch_size": 64,
    "lr": 0.002,
    "weight_lr": 0.025,
    "gradnorm_alpha": 1.5,
    "dwa_temperature": 2.0,
    "seeds": [0, 1, 2],
    "grid": {
        "digits": {"tasks": ["left", "right"], "archs": ["hard"]},
        "digits+ink": {"tasks": ["left", "right", "ink"], "archs": ["hard", "mtan"]},
        "digits+ink/sd": {
            "tasks": ["left", "right", "ink_scaled"],
            "archs": ["hard", "mtan"],
            "weightings": ["equal"],
        },
    },
    "weightings": list(WEIGHTINGS),
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


def load_task_data(
    config: dict[str, Any] = CONFIG,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, tuple]]:
    """Train and test (inputs 'x' (N, 1, H, W) and one target (N,) per task) plus head specs."""
    split = {}
    for name, n in (("train", config["n_train"]), ("test", config["n_test"])):
        x, left, right = make_multidigits(name, config["data_seed"], n=n, canvas=config["canvas"])
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
    return split["train"], split["test"], heads


def run_cell(
    arch: str,
    weighting: str,
    task_names: list[str],
    seed: int,
    data: tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, tuple]],
    config: dict[str, Any] = CONFIG,
    *,
    epochs: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Train one architecture ('hard' or 'mtan') with one weighting; test metrics and history.

    Metrics are keyed by ``metric_name``: an ``ink_scaled`` task's MAE is reported as ``ink``,
    in grey levels (times the training ink's std).
    """
    if arch not in ("hard", "mtan"):
        raise ValueError(f"arch must be 'hard' or 'mtan', got {arch!r}")
    train, test, heads = data
    tasks = [TASKS[name] for name in task_names]
    seed_everything(seed)
    net = HardSharingNet if arch == "hard" else MTANNet
    model = net(
        [heads[n] for n in task_names],
        canvas=config["canvas"],
        channels=tuple(config["channels"]),
        pool=config["pool"],
        hidden=config["head_hidden"],
    )
    history = train_multitask(
        model,
        train["x"],
        [train[n] for n in task_names],
        tasks,
        weighting=weighting,
        epochs=epochs or config["epochs"],
        batch_size=config["batch_size"],
        lr=config["lr"],
        seed=seed,
        alpha=config["gradnorm_alpha"],
        temperature=config["dwa_temperature"],
        weight_lr=config["weight_lr"],
        progress=progress,
        description=f"{arch}/{weighting}",
    )
    metrics = evaluate_tasks(model, test["x"], [test[n] for n in task_names], tasks)
    if "ink_scaled" in metrics:
        metrics["ink"] = metrics.pop("ink_scaled") * heads["ink"][1][1]
    return {
        "metrics": metrics,
        "history": history.records,
        "conflict_fraction": history.conflicts / history.pairs if history.pairs else None,
        "model": model,
    }


def run_grid(config: dict[str, Any] = CONFIG, progress: bool = True) -> dict[str, Any]:
    """Run every (task set, architecture, weighting, seed) cell and the single-task baselines."""
    fingerprint = code_fingerprint()  # of the code that is about to run
    data = load_task_data(config)
    cells = [
        (task_set, arch, weighting, seed)
        for seed in config["seeds"]
        for task_set, spec in config["grid"].items()
        for arch in spec["archs"]
        for weighting in cell_weightings(spec, config)
    ]
    all_tasks = sorted({metric_name(t) for spec in config["grid"].values() for t in spec["tasks"]})
    singles = [(task, seed) for seed in config["seeds"] for task in all_tasks]
    bar = tqdm(total=len(cells) + len(singles), desc="mtl grid", disable=not progress)
    baselines: dict[str, dict[str, float]] = {}
    for task, seed in singles:
        result = run_cell("hard", "equal", [task], seed, data, config)
        baselines.setdefault(str(seed), {})[task] = result["metrics"][task]
        bar.update()
    rows = []
    for task_set, arch, weighting, seed in cells:
        start = time.perf_counter()
        tasks = config["grid"][task_set]["tasks"]
        result = run_cell(arch, weighting, tasks, seed, data, config)
        names = [metric_name(t) for t in tasks]
        base = {t: baselines[str(seed)][t] for t in names}
        rows.append(
            {
                "task_set": task_set,
                "arch": arch,
                "weighting": weighting,
                "seed": seed,
                "metrics": result["metrics"],
                "delta_m": delta_m(
                    result["metrics"],
                    base,
                    {metric_name(t): TASKS[t].higher_is_better for t in tasks},
                ),
                "weights": {
                    t: [record[f"weight/{t}"] for record in result["history"]] for t in tasks
                },
                "conflict_fraction": result["conflict_fraction"],
                "seconds": round(time.perf_counter() - start, 2),
            }
        )
        bar.update()
    bar.close()
    return {
        "config": config,
        "code_fingerprint": fingerprint,
        "single_task": baselines,
        "rows": rows,
    }


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
        ),
    ),
    (None, ("metric_name", "cell_weightings", "load_task_data", "run_cell", "run_grid")),
)


def _code_without_docstrings(source: str) -> str:
    """The AST of a piece of source with every docstring removed, as text."""
    tree = ast.parse(textwrap.dedent(source))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def code_fingerprint() -> str:
    """SHA-256 (16 hex digits) of the code the grid runs and of its data (train, test).

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
            digest.update(_code_without_docstrings(inspect.getsource(obj)).encode())
    for part in load_task_data(CONFIG)[:2]:
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
