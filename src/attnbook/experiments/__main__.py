"""Command line: `python -m attnbook.experiments NAME [options]` runs one named experiment."""

from __future__ import annotations

import importlib
import sys

from attnbook.experiments import EXPERIMENTS


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the experiment named by argv[0]; --help lists the names."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in {"-h", "--help"}:
        print("usage: python -m attnbook.experiments NAME [options]")
        print("experiments: " + ", ".join(sorted(EXPERIMENTS)))
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in EXPERIMENTS:
        print(f"unknown experiment {name!r}; known: {', '.join(sorted(EXPERIMENTS))}")
        return 2
    return int(importlib.import_module(EXPERIMENTS[name]).main(rest))


if __name__ == "__main__":
    sys.exit(main())
