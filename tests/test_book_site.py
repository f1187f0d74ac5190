"""Tests for the site extension _ext/book_site.py: per-chapter numbers, thebe dropped."""

from __future__ import annotations

from types import SimpleNamespace

import book_site
import pytest


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
