"""Sphinx extension for the book's site: what the themes get wrong for an offline book.

- Drops sphinx-thebe's scripts: the book has no live kernels, and Jupyter Book 1 injects
  thebe's configuration twice (a console error, "THEBE_JS_URL has already been declared")
  with a pointer to an external host.
- Numbers exercises, figures and tables per chapter ("Exercise 5.2", "Fig. 2b.1"), where
  Sphinx, with no numbered toctree, counts them across the whole book.
- Links every page to the book's repository when the build is told where it lives: the
  environment variable BOOK_REPOSITORY_URL (set by the GitHub workflow from the repository it
  runs in). A local build has no such URL and shows no link rather than a guessed one.
"""

from __future__ import annotations

import os
import re
from typing import Any

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

CHAPTER = re.compile(r"(?:^|/)(\d+)([a-z]?)_[^/]*$")
NUMBERED_PER_CHAPTER = ("exercise", "figure", "table")


def chapter_label(docname: str) -> str | None:
    """'book/05_math_model' -> '5', 'book/02b_depth_and_breadth' -> '2b'; None for other pages."""
    match = CHAPTER.search(docname)
    return None if match is None else f"{int(match.group(1))}{match.group(2)}"


def _number_per_chapter(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """Replace the book-wide counters of each chapter's exercises, figures, tables by label.k.

    Runs on env-get-updated after Sphinx's TocTreeCollector has assigned the counters (it does
    so on the same event, at the default priority); returns no extra documents to rewrite.
    """
    for docname, by_type in env.toc_fignumbers.items():
        label = chapter_label(docname)
        if label is None:
            continue
        for typ in NUMBERED_PER_CHAPTER:
            numbers = by_type.get(typ, {})
            in_order = sorted(
                numbers, key=lambda i: tuple(n for n in numbers[i] if isinstance(n, int))
            )
            for rank, node_id in enumerate(in_order, start=1):
                numbers[node_id] = (label, rank)
    return []


def _is_thebe(asset: Any) -> bool:
    """True for sphinx-thebe's script, stylesheet or inline configuration."""
    filename = str(getattr(asset, "filename", asset) or "")
    body = str(getattr(asset, "attributes", {}).get("body", ""))
    return "thebe" in filename or "THEBE_JS_URL" in body


def _drop_thebe(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Remove thebe's assets from the page's script and style lists."""
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not _is_thebe(asset)]


REPOSITORY_URL_VARIABLE = "BOOK_REPOSITORY_URL"
REPOSITORY_URL = re.compile(r"https://[A-Za-z0-9.-]+(?::\d+)?/[A-Za-z0-9._~/-]+")


def _link_repository(app: Sphinx, config: Any) -> None:
    """Turn on the theme's repository and issues buttons for $BOOK_REPOSITORY_URL, if set."""
    url = os.environ.get(REPOSITORY_URL_VARIABLE, "").strip()
    if not url:
        return
    if not REPOSITORY_URL.fullmatch(url):
        raise ValueError(
            f"{REPOSITORY_URL_VARIABLE} must be an https URL of a repository, got {url!r}"
        )
    options = dict(config.html_theme_options)
    options.update(
        repository_url=url.rstrip("/"),
        repository_branch="main",
        use_repository_button=True,
        use_issues_button=True,
    )
    config.html_theme_options = options


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the page hooks."""
    app.connect("config-inited", _link_repository, priority=900)
    app.connect("html-page-context", _drop_thebe, priority=900)
    app.connect("env-get-updated", _number_per_chapter, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
