"""Runs that outgrow a notebook's minute: `python -m attnbook.experiments NAME [options]`.

Each experiment is a submodule with `main(argv: list[str]) -> int` that writes a JSON file the
chapters load and plot.
"""

EXPERIMENTS: dict[str, str] = {
    "depth-breadth": "attnbook.experiments.depth_breadth",
    "kv-heads": "attnbook.experiments.kv_heads",
    "mtl": "attnbook.experiments.mtl",
    "transformer": "attnbook.experiments.transformer",
}
