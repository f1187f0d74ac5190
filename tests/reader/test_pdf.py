"""`make pdf` gives the whole book: every chapter's title, typeset math, a plausible length.

Needs _build/pdf/book.pdf (`make pdf`); skips without it unless ATTNBOOK_REQUIRE_BUILD=1.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PDF = ROOT / "_build" / "pdf" / "book.pdf"

if not PDF.exists():
    if os.environ.get("ATTNBOOK_REQUIRE_BUILD") == "1":
        raise RuntimeError(f"{PDF} is missing: run `make pdf` first")
    pytest.skip("no PDF (run `make pdf`)", allow_module_level=True)


def _titles() -> list[str]:
    """The first heading of every page in _toc.yml, without markup."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    titles = []
    for name in files:
        notebook = ROOT / f"{name}.ipynb"
        if notebook.exists():
            text = nbformat.read(notebook, as_version=4).cells[0].source
        else:
            text = (ROOT / f"{name}.md").read_text()
        heading = next(line for line in text.splitlines() if line.startswith("# "))
        titles.append(re.sub(r"[*_`]", "", heading[2:]).strip())
    return titles


@pytest.fixture(scope="module")
def text() -> str:
    if not shutil.which("pdftotext"):
        raise RuntimeError("pdftotext is missing: apt-get install poppler-utils")
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(PDF), "-"], check=True, capture_output=True, text=True
    ).stdout


def _squash(value: str) -> str:
    """Letters and digits only, lower case: PDF text has typographic quotes and line breaks."""
    return "".join(character for character in value.lower() if character.isalnum())


def test_every_chapter_title_is_in_the_pdf(text: str):
    flat = _squash(text)
    missing = [title for title in _titles() if _squash(title.split(" — ")[0]) not in flat]
    assert missing == [], f"chapter titles missing from the PDF: {missing}"


def test_chinese_headings_are_rendered(text: str):
    chinese = [t.split(" — ", 1)[1] for t in _titles() if " — " in t]
    assert chinese, "no chapter title carries a Chinese heading"
    flat = _squash(text)
    missing = [heading for heading in chinese if _squash(heading) not in flat]
    assert missing == [], f"Chinese headings missing from the PDF: {missing}"


def test_no_raw_tex_is_left(text: str):
    assert "$$" not in text and "\\frac" not in text and "\\begin{" not in text


def test_the_page_count_is_plausible():
    from pypdf import PdfReader

    pages = len(PdfReader(str(PDF)).pages)
    chapters = len(_titles())
    assert 5 * chapters <= pages <= 60 * chapters, f"{pages} pages for {chapters} chapters"
