"""Committed results of the runs that outgrow a notebook's minute, shipped inside the package.

`python -m attnbook.experiments NAME` (and `python -m attnbook.bench --out ...`) write here by
default; the chapters read the files with `load`, so a chapter downloaded from the site runs
wherever the attnbook wheel is installed, without this repository's folders.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["RESULTS_DIR", "available", "load"]

RESULTS_DIR = Path(__file__).resolve().parent


def available() -> list[str]:
    """Names of the shipped result files (e.g. 'mtl.json'), sorted."""
    folder = resources.files(__package__)
    return sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".json"))


def load(name: str) -> dict[str, Any]:
    """The committed JSON results called name, e.g. load('mtl.json'), read from the package."""
    if not isinstance(name, str) or not name.endswith(".json") or "/" in name:
        raise ValueError(f"name must be a file name ending in .json, got {name!r}")
    entry = resources.files(__package__).joinpath(name)
    if not entry.is_file():
        raise FileNotFoundError(f"no results {name!r} in attnbook.results; shipped: {available()}")
    return json.loads(entry.read_text(encoding="utf-8"))
