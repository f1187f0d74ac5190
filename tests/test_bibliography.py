"""Citations resolve to book/references.bib, every entry is cited, and chapters link the glossary."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
BIB = BOOK / "references.bib"
CITE = re.compile(r"\{cite(?::[pt])?\}`([^`]+)`")


def _bib_keys() -> set[str]:
    return set(re.findall(r"^@\w+\{([^,\s]+),", BIB.read_text(), flags=re.MULTILINE))


def _cited_keys() -> dict[str, set[str]]:
    """Citation keys used by each chapter, from markdown pages and notebook markdown cells."""
    cited: dict[str, set[str]] = {}
    texts = {p.name: p.read_text() for p in BOOK.glob("*.md")}
    for path in BOOK.glob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        texts[path.name] = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    for name, text in texts.items():
        keys = {key.strip() for group in CITE.findall(text) for key in group.split(",")}
        cited[name] = keys
    return cited


def test_bib_keys_are_unique():
    keys = re.findall(r"^@\w+\{([^,\s]+),", BIB.read_text(), flags=re.MULTILINE)
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    assert duplicates == [], f"duplicate bib keys: {duplicates}"


def test_every_citation_exists():
    known = _bib_keys()
    missing = {name: sorted(keys - known) for name, keys in _cited_keys().items() if keys - known}
    assert missing == {}, f"citations without a bib entry: {missing}"


def test_every_entry_is_cited():
    used = set().union(*_cited_keys().values())
    unused = sorted(_bib_keys() - used)
    assert unused == [], f"bib entries no page cites: {unused}"


def test_every_notebook_links_the_glossary():
    """Each chapter links at least one term to the glossary with a {term} role."""
    unlinked = []
    for path in sorted(BOOK.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        if not any("{term}`" in c.source for c in notebook.cells if c.cell_type == "markdown"):
            unlinked.append(path.name)
    assert unlinked == [], f"chapters with no glossary link: {unlinked}"
