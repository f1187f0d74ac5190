"""Every chapter notebook has a MyST Markdown twin in book/text/ (jupytext) with the same cells.

The twin is what authors edit and reviewers read; the notebook carries the outputs. A change to
one without `make notebooks` (which runs `jupytext --sync`) fails here.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
TWINS = ROOT / "book" / "text"


def _cells(notebook: nbformat.NotebookNode) -> list[tuple[str, str, tuple[str, ...]]]:
    return [
        (cell.cell_type, cell.source.strip(), tuple(cell.metadata.get("tags", [])))
        for cell in notebook.cells
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_and_text_twin_agree(path: Path):
    twin = TWINS / f"{path.stem}.md"
    assert twin.exists(), f"{path.name} has no text twin: run `make notebooks`"
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata.get("jupytext", {}).get("formats") == "ipynb,text//md:myst"
    assert _cells(jupytext.read(twin)) == _cells(notebook), (
        f"{path.name} and {twin.relative_to(ROOT)} differ: edit the twin, then `make notebooks`"
    )


def test_no_twin_without_its_notebook():
    orphans = sorted(
        p.name for p in TWINS.glob("*.md") if not (ROOT / "book" / f"{p.stem}.ipynb").exists()
    )
    assert orphans == [], f"text twins without a notebook: {orphans}"
