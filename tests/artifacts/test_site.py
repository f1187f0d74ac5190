"""The built site, checked as a reader's browser sees it: offline, typeset, drawn, linked.

Needs `_build/html` (run `make book` first). With ATTNBOOK_REQUIRE_BUILD=1 (set by `make test`)
a missing build fails instead of skipping.
"""

from __future__ import annotations

import functools
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import book_i18n
import pytest
from book_i18n import edition_prefix
from book_site import chapter_label

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"

if not (SITE / "index.html").exists():
    if os.environ.get("ATTNBOOK_REQUIRE_BUILD") == "1":
        raise RuntimeError("_build/html is missing: run `make book` before the site checks")
    pytest.skip("site not built (run `make book`)", allow_module_level=True)


# Each edition's folder in the site, and the words its pages number exercises and figures with.
EDITIONS = {language: edition_prefix(language) for language in book_i18n.EDITIONS}
CAPTION_WORDS = {
    "en": {"Exercise": "Exercise", "Fig.": "Fig.", "Solution to": "Solution to"},
    "zh_CN": {"Exercise": "练习", "Fig.": "图", "Solution to": "解答"},
}


def _pages(edition: str = "en") -> list[Path]:
    """Every chapter page of one edition of the built book (not search/genindex)."""
    return sorted(p for p in (SITE / EDITIONS[edition] / "book").glob("*.html"))


def _all_editions_pages() -> list[Path]:
    return [page for edition in EDITIONS for page in _pages(edition)]


def _page_id(path: Path) -> str:
    return str(path.relative_to(SITE).with_suffix(""))


def _edition(path: Path) -> str:
    return "zh_CN" if path.relative_to(SITE).parts[0] == "zh_CN" else "en"


# A phone (390 px wide, dark) for the per-page checks: math, diagrams and requests do not
# depend on the width, and the page must also fit the narrowest screen.
PHONE = {"viewport": {"width": 390, "height": 844}, "color_scheme": "dark"}
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "color_scheme": "light"}


def _visit(browser, url: str, screenshot: Path | None, device: dict = DESKTOP):
    """Load url, wait for MathJax and Mermaid, screenshot; return (page, requests, failures).

    Screenshots (full page) are taken only with ATTNBOOK_SCREENSHOTS=1: they cost more than the
    checks, and are for a person to look at.
    """
    context = browser.new_context(**device)
    page = context.new_page()
    requests: list[str] = []
    failures: list[str] = []
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # console errors and uncaught exceptions, for the tests to check
    page.on("request", lambda request: requests.append(request.url))
    page.on("requestfailed", lambda request: failures.append(request.url))
    page.on(
        "response", lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )
    page.set_default_timeout(90_000)
    page.goto(url, wait_until="load")
    page.wait_for_function(
        "() => !window.MathJax || !MathJax.startup || !MathJax.startup.promise"
        " || MathJax.startup.promise.then(() => true)",
        timeout=90_000,
    )
    if page.locator("pre.mermaid, div.mermaid").count():
        page.wait_for_selector(".mermaid svg", timeout=90_000)
    page.wait_for_load_state("networkidle")
    if screenshot is not None and os.environ.get("ATTNBOOK_SCREENSHOTS") == "1":
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
    return page, requests, failures


@pytest.mark.parametrize("page_path", _all_editions_pages(), ids=_page_id)
def test_page_renders_offline_on_a_phone(browser, base_url, page_path: Path):
    url = urljoin(base_url, str(page_path.relative_to(SITE)))
    shot = SCREENSHOTS / f"{_page_id(page_path).replace('/', '-')}.png"
    page, requests, failures = _visit(browser, url, shot, PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page_path.name} is {width} px wide on a 390 px phone"
    outside = [r for r in requests if not r.startswith(base_url) and not r.startswith("data:")]
    assert outside == [], f"{page_path.name} requested other hosts: {outside}"
    assert failures == [], f"{page_path.name} had failed requests: {failures}"
    assert page.errors == [], f"{page_path.name} logged errors in the console: {page.errors}"

    html = page_path.read_text()
    if 'class="math' in html:
        assert page.locator("mjx-container").count() > 0, f"{page_path.name}: math not typeset"
        text = page.inner_text("article")
        assert "$$" not in text and "\\frac" not in text, f"{page_path.name}: raw TeX left"
    diagrams = page.locator("pre.mermaid, div.mermaid").count()
    if diagrams:
        assert page.locator(".mermaid svg").count() == diagrams, (
            f"{page_path.name}: a diagram is not drawn"
        )
    broken_images = page.evaluate(
        "() => [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
    )
    assert broken_images == [], f"{page_path.name}: images did not load: {broken_images}"
    page.context.close()


def test_solutions_are_collapsed(browser, base_url):
    pages_with_solutions = [p for p in _pages() if "solution dropdown" in p.read_text()]
    assert pages_with_solutions, "no page has a folded solution"
    page, _, _ = _visit(
        browser,
        urljoin(base_url, str(pages_with_solutions[0].relative_to(SITE))),
        SCREENSHOTS / "solutions-check.png",
    )
    states = page.evaluate(
        "() => [...document.querySelectorAll('div.solution')].map(d => "
        "[d.classList.contains('toggle-hidden'), d.querySelector('section').offsetHeight])"
    )
    assert states, "no solution found on the page"
    assert all(hidden and height == 0 for hidden, height in states), (
        f"a solution is visible before the reader opens it: {states}"
    )
    page.context.close()


@pytest.mark.parametrize("edition", EDITIONS)
def test_search_works_offline(browser, base_url, edition: str):
    context = browser.new_context()
    page = context.new_page()
    page.goto(urljoin(base_url, f"{EDITIONS[edition]}search.html?q=softmax"), wait_until="load")
    page.wait_for_selector("#search-results li", timeout=90_000)
    assert page.locator("#search-results li").count() >= 1
    context.close()


class _LinkCollector(HTMLParser):
    """Collect ids, hrefs and external resource sources of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.resources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"])
        if tag == "a" and values.get("href"):
            self.hrefs.append(values["href"])
        if tag in {"script", "img", "iframe", "source", "video", "audio"} and values.get("src"):
            self.resources.append(values["src"])
        if tag == "link" and values.get("href") and values.get("rel") != "canonical":
            self.resources.append(values["href"])


@functools.cache
def _parse(path: Path) -> _LinkCollector:
    collector = _LinkCollector()
    collector.feed(path.read_text(errors="replace"))
    return collector


def _all_html() -> list[Path]:
    return sorted(SITE.rglob("*.html"))


def test_each_edition_is_a_site_of_its_own():
    """The Chinese edition sits in zh_CN/ with its own search; no build folder leaks into either."""
    for edition, folder in EDITIONS.items():
        root = SITE / folder
        assert (root / "searchindex.js").exists() and (root / "book" / "intro.html").exists(), (
            edition
        )
        assert not (root / "jupyter_execute").exists(), (
            f"{edition}: MyST-NB's output folder in the site"
        )
        assert _pages(edition), f"{edition}: no chapter pages"
    assert [p.name for p in _pages("en")] == [p.name for p in _pages("zh_CN")]


@pytest.mark.parametrize("page_path", _pages("zh_CN"), ids=_page_id)
def test_the_chinese_page_states_the_same_numbers(page_path: Path):
    """Every number glued into the English page from the run is glued into its translation too."""
    english = SITE / "book" / page_path.name
    glued = re.compile(r'<span class="pasted-text">([^<]*)</span>')
    numbers = sorted(glued.findall(english.read_text()))
    assert sorted(glued.findall(page_path.read_text())) == numbers, (
        f"{page_path.name}: numbers differ"
    )


def test_no_resource_is_loaded_from_another_host():
    offenders = []
    for path in _all_html():
        for source in _parse(path).resources:
            if re.match(r"^(https?:)?//", source):
                offenders.append(f"{path.relative_to(SITE)}: {source}")
    for css in SITE.rglob("*.css"):
        for match in re.findall(
            r"url\(\s*['\"]?((?:https?:)?//[^)'\"]+)", css.read_text(errors="replace")
        ):
            offenders.append(f"{css.relative_to(SITE)}: {match}")
    assert offenders == [], "resources from other hosts:\n" + "\n".join(offenders)


def test_internal_links_and_anchors_resolve():
    broken = []
    for path in _all_html():
        for href in _parse(path).hrefs:
            parsed = urlparse(href)
            if parsed.scheme or href.startswith(("//", "mailto:", "javascript:")):
                continue
            target = path if not parsed.path else (path.parent / unquote(parsed.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{path.relative_to(SITE)} -> {href} (no file)")
                continue
            if parsed.fragment and target.suffix == ".html":
                if unquote(parsed.fragment) not in _parse(target).ids:
                    broken.append(f"{path.relative_to(SITE)} -> {href} (no anchor)")
    assert broken == [], "broken internal links:\n" + "\n".join(broken)


@pytest.mark.parametrize("page_path", _all_editions_pages(), ids=_page_id)
def test_exercises_and_figures_are_numbered_within_their_chapter(page_path: Path):
    """Exercise 5.1, 5.2, ... on chapter 5's page; solutions name the same numbers."""
    label = chapter_label(f"book/{page_path.stem}")
    if label is None or page_path.parent.name != "book":
        pytest.skip("not a chapter")
    html = page_path.read_text()
    words = {key: re.escape(word) for key, word in CAPTION_WORDS[_edition(page_path)].items()}
    for kind in ("Exercise", "Fig."):
        numbers = re.findall(rf'<span class="caption-number">{words[kind]} ([^ <]+) ?</span>', html)
        expected = [f"{label}.{k}" for k in range(1, len(numbers) + 1)]
        assert numbers == expected, f"{page_path}: {kind} numbered {numbers}"
    exercises = re.findall(rf'<span class="caption-number">{words["Exercise"]} ([^ <]+)', html)
    solutions = re.findall(rf"{words['Solution to']}<a [^>]*> {words['Exercise']} ([^ <]+)", html)
    for number in solutions:
        assert number in exercises, f"{page_path}: a solution names exercise {number}"
