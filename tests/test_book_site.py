"""Tests for the site extension _ext/book_site.py: per-chapter numbers, thebe dropped, repository link."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import book_site
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("docname", "label"),
    [
        ("book/05_math_model", "5"),
        ("book/02b_depth_and_breadth", "2b"),
        ("book/10_faq", "10"),
        ("book/09e_attention_at_scale", "9e"),
        ("book/glossary", None),
        ("intro", None),
    ],
)
def test_chapter_label(docname: str, label: str | None) -> None:
    assert book_site.chapter_label(docname) == label


def test_exercises_and_figures_are_numbered_per_chapter_in_page_order() -> None:
    env = SimpleNamespace(
        toc_fignumbers={
            "book/05_math_model": {
                "exercise": {"ex-b": (16,), "ex-a": (15,), "ex-c": (17,)},
                "figure": {"fig-x": (9,)},
                "code-block": {"c": (3,)},
            },
            "book/09a_multitask": {"exercise": {"ex-z": (30,), "ex-y": (29,)}},
            "book/glossary": {"table": {"t": (4,)}},
        }
    )
    book_site._number_per_chapter(None, env)
    numbers = env.toc_fignumbers
    assert numbers["book/05_math_model"]["exercise"] == {
        "ex-a": ("5", 1),
        "ex-b": ("5", 2),
        "ex-c": ("5", 3),
    }
    assert numbers["book/05_math_model"]["figure"] == {"fig-x": ("5", 1)}
    assert numbers["book/05_math_model"]["code-block"] == {"c": (3,)}  # not renumbered
    assert numbers["book/09a_multitask"]["exercise"] == {"ex-y": ("9a", 1), "ex-z": ("9a", 2)}
    assert numbers["book/glossary"]["table"] == {"t": (4,)}  # not a chapter
    book_site._number_per_chapter(None, env)  # a second build pass changes nothing
    assert numbers["book/09a_multitask"]["exercise"] == {"ex-y": ("9a", 1), "ex-z": ("9a", 2)}


def _config(**theme_options):
    return SimpleNamespace(html_theme_options=dict(theme_options))


def test_no_repository_link_without_a_url(monkeypatch):
    monkeypatch.delenv(book_site.REPOSITORY_URL_VARIABLE, raising=False)
    config = _config(use_download_button=True)
    book_site._link_repository(None, config)
    assert config.html_theme_options == {"use_download_button": True}


def test_repository_url_turns_on_the_repository_and_issues_buttons(monkeypatch):
    monkeypatch.setenv(book_site.REPOSITORY_URL_VARIABLE, "https://github.com/someone/book/")
    config = _config(use_download_button=True, use_repository_button=False)
    book_site._link_repository(None, config)
    assert config.html_theme_options == {
        "use_download_button": True,
        "repository_url": "https://github.com/someone/book",
        "repository_branch": "main",
        "use_repository_button": True,
        "use_issues_button": True,
    }


@pytest.mark.parametrize("url", ["github.com/someone/book", "http://github.com/a/b", "https://"])
def test_a_repository_url_that_is_not_one_is_an_error(monkeypatch, url):
    monkeypatch.setenv(book_site.REPOSITORY_URL_VARIABLE, url)
    with pytest.raises(ValueError, match="BOOK_REPOSITORY_URL must be an https URL"):
        book_site._link_repository(None, _config())


def test_the_published_site_links_the_repository_it_is_built_from():
    """The GitHub workflow, which publishes the site, hands the build its repository's URL."""
    workflow = (ROOT / ".github" / "workflows" / "book.yml").read_text()
    assert "BOOK_REPOSITORY_URL: ${{ github.server_url }}/${{ github.repository }}" in workflow
