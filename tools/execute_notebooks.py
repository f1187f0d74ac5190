"""Sync each notebook with its text twin (jupytext), then re-execute it in place, top to bottom.

Usage: python tools/execute_notebooks.py book/*.ipynb
The twin (book/text/NAME.md) is what authors edit; `jupytext --sync` carries its cells into the
notebook (keeping outputs), and a fresh kernel then makes the committed outputs current.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from jupytext.cli import jupytext as jupytext_cli
from nbclient import NotebookClient


def execute(path: Path, timeout: int) -> float:
    """Execute one notebook in its own directory and overwrite it; return the wall time in s."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(notebook, path)
    jupytext_cli(["--sync", "--quiet", str(path)])  # the twin gets the notebook's metadata back
    return elapsed


def main(argv: list[str] | None = None) -> int:
    """Execute every notebook named on the command line; print each one's time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        jupytext_cli(["--sync", "--quiet", str(path)])  # an edited twin wins over an older notebook
        seconds = execute(path, args.timeout)
        print(f"{path}: {seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
