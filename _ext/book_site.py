"""Sphinx extension for the book's site: what the themes get wrong for an offline book.

- Drops sphinx-thebe's scripts: the book has no live kernels, and Jupyter Book 1 injects
  thebe's configuration twice (a console error, "THEBE_JS_URL has already been declared")
  with a pointer to an external host.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


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


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the page hooks."""
    app.connect("html-page-context", _drop_thebe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
