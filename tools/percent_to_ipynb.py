"""Convert a percent-format script (`# %%` code cells, `# %% [markdown]` cells) to a notebook.

Usage: python tools/percent_to_ipynb.py draft.py book/NN_name.ipynb
Markdown cells are written as comment lines (`# text`); the leading `# ` is removed.
The notebook is written without outputs: run `make notebooks` (or tools/execute_notebooks.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def _markdown(lines: list[str]) -> str:
    """Strip one leading '# ' (or '#') from each comment line."""
    out = []
    for line in lines:
        if line.startswith("# "):
            out.append(line[2:])
        elif line.startswith("#"):
            out.append(line[1:])
        else:
            out.append(line)
    return "\n".join(out).strip("\n")


def convert(source: str) -> nbformat.NotebookNode:
    """Split percent-format source into notebook cells."""
    cells = []
    kind, lines = None, []

    def flush() -> None:
        text = "\n".join(lines).strip("\n")
        if kind == "markdown":
            cells.append(new_markdown_cell(_markdown(lines)))
        elif kind == "code" and text:
            cells.append(new_code_cell(text))

    for line in source.splitlines():
        if line.startswith("# %%"):
            flush()
            kind = "markdown" if "[markdown]" in line else "code"
            lines = []
        elif kind is not None:
            lines.append(line)
    flush()
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def main() -> int:
    """Read argv[1] (percent script), write argv[2] (notebook)."""
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    notebook = convert(Path(sys.argv[1]).read_text())
    nbformat.write(notebook, sys.argv[2])
    print(f"wrote {sys.argv[2]} ({len(notebook.cells)} cells)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
