"""The trust layer's rules, checked on the committed notebooks (see CONTRIBUTING, "Claims").

1. nbval compares only cells tagged `nbval-check-output` (`make test` runs it with --nbval-lax);
   a compared cell computes something exact: no training, no timing, no progress bar, no
   float noise, no tensor repr (whose format depends on whether the values are whole).
2. A number in the prose that looks measured comes from the run through `{glue:text}`; every
   glued key exists in the stored outputs.
3. Every seed goes through `attnbook.seeding`, so ATTNBOOK_SEED_OFFSET moves them all.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from prose_numbers import measured_numbers

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
PAGES = sorted(BOOK.glob("*.md"))
CHECK_TAG = "nbval-check-output"

# What a compared cell may not do: train, time, or show progress.
NOT_EXACT = re.compile(
    r"\bfit\(|\btrain_\w*\(|\.backward\(|\boptimi[sz]er\b|\.step\(|perf_counter|timeit|"
    r"\bbench\b|\btqdm\b|torch\.compile|\brun_\w*\(|\bgenerate\("
)
# Floats printed with more than 6 significant digits are noise that can flip across CPUs.
LONG_FLOAT = re.compile(r"(?<![\w.])-?\d*\.\d{7,}(?:e[+-]?\d+)?|\d\.\d+e-\d{2}")
RAW_SEEDING = re.compile(
    r"torch\.manual_seed\(|torch\.Generator\([^)]*\)\.manual_seed\(|np\.random\.default_rng\(|"
    r"np\.random\.seed\(|numpy\.random\.default_rng\(|random\.seed\("
)
GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`([^`]+)`")

# Numbers that look measured but are constants of the set-up or quotations, for the markdown
# pages. A notebook keeps its own list, with a reason for each number, in its metadata:
# {"attnbook": {"prose_constants": {"0.5": "chance level of a balanced two-class task"}}}.
ALLOWED_IN_PAGES: dict[str, dict[str, str]] = {}


def _code_cells(path: Path) -> list[nbformat.NotebookNode]:
    return [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]


def _text_of(cell: nbformat.NotebookNode) -> str:
    """Everything of a compared cell that nbval compares as text: streams, text/plain results
    and glued values (myst-nb stores those as application/papermill.record/text/plain)."""
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif "data" in output:
            if "text/plain" in output.data and not {"image/png", "image/svg+xml"} & set(
                output.data
            ):
                parts.append(output.data["text/plain"])
            glued = output.data.get("application/papermill.record/text/plain")
            if glued is not None:
                parts.append(f"\n{glued}\n")
    return "".join(parts)


def _glued_keys(path: Path) -> set[str]:
    """Keys that myst-nb's glue stored in a notebook's outputs."""
    keys = set()
    for cell in _code_cells(path):
        for output in cell.outputs:
            scrapbook = output.get("metadata", {}).get("scrapbook", {})
            if "name" in scrapbook:
                keys.add(scrapbook["name"])
    return keys


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_nbval_comment_markers(path: Path):
    """Markers are cell tags, which the reader does not see; comments would show on the page."""
    for index, cell in enumerate(_code_cells(path), start=1):
        assert "NBVAL_" not in cell.source, (
            f"{path.name} code cell {index}: use the cell tag {CHECK_TAG!r}, not a # NBVAL_ comment"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_compared_cells_compute_something_exact(path: Path):
    for index, cell in enumerate(_code_cells(path), start=1):
        if CHECK_TAG not in cell.metadata.get("tags", []):
            continue
        where = f"{path.name} code cell {index} (tagged {CHECK_TAG})"
        match = NOT_EXACT.search(cell.source)
        assert match is None, f"{where} trains or times ({match.group(0)!r}): untag it"
        text = _text_of(cell)
        assert "tensor(" not in text, f"{where} prints a tensor repr: print rounded numbers"
        noisy = LONG_FLOAT.search(text)
        assert noisy is None, f"{where} prints float noise {noisy.group(0)!r}: round it"
        assert not any(o.get("name") == "stderr" for o in cell.outputs), f"{where} wrote stderr"
        assert " at 0x" not in text, f"{where} prints an object address"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_seed_goes_through_attnbook_seeding(path: Path):
    for index, cell in enumerate(_code_cells(path), start=1):
        match = RAW_SEEDING.search(cell.source)
        assert match is None, (
            f"{path.name} code cell {index} seeds with {match.group(0)!r}: use attnbook.seeding "
            "(seed_everything, manual_seed, torch_generator, numpy_rng) so the offset moves it"
        )


def test_the_package_seeds_only_through_attnbook_seeding():
    for path in sorted((ROOT / "src" / "attnbook").rglob("*.py")):
        if path.name == "seeding.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            match = RAW_SEEDING.search(line)
            assert match is None, f"{path.relative_to(ROOT)}:{number} seeds with {match.group(0)!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_seeds_everything(path: Path):
    assert "seed_everything(" in _code_cells(path)[0].source, path.name


@pytest.mark.parametrize("path", [*NOTEBOOKS, *PAGES], ids=lambda p: p.name)
def test_measured_numbers_in_the_prose_are_glued(path: Path):
    if path.suffix == ".md":
        sources = [path.read_text()]
        allowed = ALLOWED_IN_PAGES.get(path.name, {})
    else:
        notebook = nbformat.read(path, as_version=4)
        sources = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
        allowed = notebook.metadata.get("attnbook", {}).get("prose_constants", {})
    assert all(isinstance(why, str) and why.strip() for why in allowed.values()), (
        f"{path.name}: every allowed prose constant needs a reason"
    )
    typed = [n for source in sources for n in measured_numbers(source) if n not in allowed]
    assert typed == [], (
        f"{path.name}: numbers typed into the prose {typed}: glue them from the run "
        "({glue:text}`key:.2f`), or list a constant of the set-up, with its reason, in the "
        "notebook's metadata attnbook.prose_constants"
    )


@pytest.mark.parametrize("path", [*NOTEBOOKS, *PAGES], ids=lambda p: p.name)
def test_every_glued_key_is_stored(path: Path):
    if path.suffix == ".md":
        sources = [path.read_text()]
    else:
        notebook = nbformat.read(path, as_version=4)
        sources = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    for source in sources:
        for reference in GLUE_ROLE.findall(source):
            if "::" in reference:
                document, key = reference.split("::", 1)
                target = (path.parent / document).with_suffix(".ipynb")
            else:
                key, target = reference, path
            key = key.split(":", 1)[0]
            assert target.exists(), f"{path.name}: glue from a missing document {reference!r}"
            assert key in _glued_keys(target), (
                f"{path.name}: {reference!r} is not glued in {target.name}"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_glued_values_are_plain_numbers_or_text(path: Path):
    """`{glue:text}` formats text/plain: glue float(x) or int(x), never a numpy or torch scalar."""
    for index, cell in enumerate(_code_cells(path), start=1):
        for output in cell.outputs:
            scrapbook = output.get("metadata", {}).get("scrapbook", {})
            if "name" not in scrapbook:
                continue
            text = next(
                (v for k, v in output.get("data", {}).items() if k.endswith("text/plain")), ""
            )
            assert not re.match(r"^(np\.|numpy\.|tensor\(|array\()", text), (
                f"{path.name} code cell {index} glues {scrapbook['name']!r} as {text[:40]!r}: "
                "glue a Python float/int (float(x), x.item()) so a format spec applies"
            )
