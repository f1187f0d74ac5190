"""Print the built site's chapters, in table-of-contents order, into one PDF (no network).

Usage: python tools/print_pdf.py _build/html _build/pdf/book.pdf
Serves the built site on localhost; for each page named in _toc.yml the system Chromium waits
until MathJax has typeset and Mermaid has drawn, opens every folded solution, and prints it
with the print stylesheet; pypdf joins the pages into one file with a bookmark per chapter.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import io
import os
import shutil
import sys
import threading
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
OPEN_SOLUTIONS = """() => {
  document.querySelectorAll('.toggle-hidden').forEach(n => n.classList.remove('toggle-hidden'));
  document.querySelectorAll('details').forEach(d => { d.open = true; });
}"""
TYPESET = (
    "() => !window.MathJax || !MathJax.startup || !MathJax.startup.promise"
    " || MathJax.startup.promise.then(() => true)"
)
DRAWN = (
    "() => [...document.querySelectorAll('pre.mermaid, div.mermaid')]"
    ".every(d => d.querySelector('svg'))"
)


def toc_pages(toc_file: Path = ROOT / "_toc.yml") -> list[str]:
    """The book's pages in reading order: the root, then every file of every part."""
    toc = yaml.safe_load(toc_file.read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [chapter["file"] for chapter in part.get("chapters", [])]
    pages += [chapter["file"] for chapter in toc.get("chapters", [])]
    return pages


def chromium_path() -> str:
    """The system Chromium: CHROMIUM_PATH, /usr/bin/chromium, or the first on PATH."""
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    found = shutil.which("chromium") or shutil.which("google-chrome")
    if not found:
        raise SystemExit("no Chromium found: install Debian's chromium or set CHROMIUM_PATH")
    return found


def print_book(site: Path, output: Path) -> tuple[int, int]:
    """Print every page of the built site into output; return (pages, bytes)."""
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader, PdfWriter

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(site))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    writer = PdfWriter()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_FLAGS
            )
            page = browser.new_page(viewport={"width": 1000, "height": 1400})
            page.set_default_timeout(180_000)
            for name in toc_pages():
                page.goto(f"{base}{name}.html", wait_until="networkidle")
                page.wait_for_function(TYPESET)
                page.wait_for_function(DRAWN)
                page.evaluate(OPEN_SOLUTIONS)
                page.emulate_media(media="print")
                pdf = page.pdf(
                    format="A4",
                    print_background=True,
                    margin={"top": "15mm", "bottom": "15mm", "left": "14mm", "right": "14mm"},
                )
                first = len(writer.pages)
                for pdf_page in PdfReader(io.BytesIO(pdf)).pages:
                    writer.add_page(pdf_page)
                writer.add_outline_item(title=page.title().split(" | ")[0], page_number=first)
            browser.close()
    finally:
        server.shutdown()
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("wb") as handle:
        writer.write(handle)
    return len(writer.pages), output.stat().st_size


def main(argv: list[str] | None = None) -> int:
    """Command line: the built site in, one PDF out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    pages, size = print_book(args.site.resolve(), args.output)
    print(f"{args.output}: {pages} pages, {size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
