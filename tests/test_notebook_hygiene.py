"""Every notebook is in the table of contents, executed top to bottom, titled, with exercises."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import yaml
from book_site import chapter_label

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
CJK = re.compile(r"[\u4e00-\u9fff]")


def _toc_files() -> set[str]:
    """Every file named in _toc.yml (without suffix), root included."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = {toc["root"]}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                files.add(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc.get("parts", []))
    walk(toc.get("chapters", []))
    return files


def _chapter_files() -> set[str]:
    """Every chapter source in book/: notebooks and markdown pages (without suffix)."""
    sources = [*BOOK.glob("*.ipynb"), *BOOK.glob("*.md")]
    return {str(path.relative_to(ROOT).with_suffix("")) for path in sources}


def test_toc_lists_exactly_the_chapters_that_exist():
    toc, chapters = _toc_files(), _chapter_files()
    assert toc - chapters == set(), f"_toc.yml names missing files: {sorted(toc - chapters)}"
    assert chapters - toc == set(), f"chapters missing from _toc.yml: {sorted(chapters - toc)}"


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_executed_in_order_with_outputs_stored(path: Path):
    notebook = nbformat.read(path, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    counts = [cell.execution_count for cell in code_cells]
    assert counts == list(range(1, len(code_cells) + 1)), (
        f"{path.name}: execution counts {counts} are not 1..{len(code_cells)}: run `make notebooks`"
    )
    for index, cell in enumerate(code_cells, start=1):
        for output in cell.outputs:
            assert output.output_type != "error", f"{path.name} cell {index} stored an error"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_title_carries_the_article_heading(path: Path):
    notebook = nbformat.read(path, as_version=4)
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), path.name
    title = first.source.splitlines()[0]
    assert " · " in title and CJK.search(title), f"{path.name}: title {title!r} lacks '· 中文'"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_with_asserted_solutions(path: Path):
    notebook = nbformat.read(path, as_version=4)
    exercises, open_solution, solved = 0, False, []
    asserted = False
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            exercises += cell.source.count("```{exercise}")
            if "```{solution-end}" in cell.source:
                assert open_solution, f"{path.name}: solution-end without solution-start"
                solved.append(asserted)
                open_solution = False
            if "```{solution-start}" in cell.source:
                open_solution, asserted = True, False
        elif open_solution and "assert " in cell.source:
            asserted = True
    assert not open_solution, f"{path.name}: a solution is never closed"
    assert 2 <= exercises <= 4, f"{path.name}: {exercises} exercises (want 2-4)"
    assert len(solved) == exercises, f"{path.name}: {exercises} exercises, {len(solved)} solutions"
    assert all(solved), f"{path.name}: a solution has no code cell with an assert"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_says_how_to_install_attnbook(path: Path):
    """A chapter downloaded from the site fails early with a message, not deep in an import."""
    notebook = nbformat.read(path, as_version=4)
    first = next(cell for cell in notebook.cells if cell.cell_type == "code")
    assert 'find_spec("attnbook")' in first.source and "pip install" in first.source, path.name
    assert first.source.index("find_spec") < first.source.index("from attnbook"), path.name


CLOSING_SECTIONS = {"Exercises", "Summary"}


def _h2_headings(path: Path) -> list[str]:
    """The '## ' headings of a notebook's markdown cells, outside fenced blocks."""
    headings = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "markdown":
            continue
        fenced = False
        for line in cell.source.splitlines():
            if line.startswith("```"):
                fenced = line.strip().strip("`") != ""
            elif not fenced and line.startswith("## "):
                headings.append(line[3:])
    return headings


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_sections_are_numbered_by_chapter(path: Path):
    """One scheme everywhere: chapter 2b's sections are '2b.1 …', '2b.2 …', then Exercises."""
    label = chapter_label(f"book/{path.stem}")
    assert label, f"{path.name}: chapter files are named NN[letter]_name"
    numbered = [h for h in _h2_headings(path) if h not in CLOSING_SECTIONS]
    expected = [f"{label}.{k} " for k in range(1, len(numbered) + 1)]
    assert numbered, f"{path.name} has no numbered sections"
    wrong = [h for h, prefix in zip(numbered, expected, strict=True) if not h.startswith(prefix)]
    assert wrong == [], f"{path.name}: sections not numbered {label}.1, {label}.2, …: {wrong}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercise_titles_are_plain_text(path: Path):
    """Exercise titles are rendered as text: no TeX, no raw subscripts such as d_k."""
    for cell in nbformat.read(path, as_version=4).cells:
        for title in re.findall(r"^```\{exercise\} (.*)$", cell.source, flags=re.M):
            assert not re.search(r"[$\\]|\w_\w", title), f"{path.name}: exercise title {title!r}"


def _sanitize(text: str) -> str:
    """Apply tools/nbval_sanitize.cfg's patterns as nbval does (re.sub, in file order)."""
    import configparser

    config = configparser.ConfigParser()
    config.read(ROOT / "tools" / "nbval_sanitize.cfg")
    for section in config.sections():
        text = re.sub(config[section]["regex"], config[section]["replace"], text)
    return text


def test_compared_outputs_ignore_the_last_bits_of_a_float():
    """Two reprs of one float that differ only past 8 decimals compare equal; 1e-6 does not."""
    assert _sanitize("0.9442756020713345") == _sanitize("0.9442756020713347")
    assert _sanitize("x = 12.5000000001 at 0x7f3a") == _sanitize("x = 12.5000000003 at 0x1b2c")
    assert _sanitize("0.944276") != _sanitize("0.944277")
    assert _sanitize("0.94427560") != _sanitize("0.94427570")
