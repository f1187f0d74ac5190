"""The Chinese edition keeps step with the English: every message translated, none stale.

The catalogs are compared with a fresh extraction of the English text (Sphinx's gettext
builder), so changing an English sentence fails here until `make translations` is run and the
new message translated.
"""

from __future__ import annotations

from pathlib import Path

import polib
import pytest
from book_i18n import edition_links

from tools import translations

TERMS = translations.glossary_terms()


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> Path:
    return translations.extract(tmp_path_factory.mktemp("gettext"))


@pytest.mark.parametrize("language", translations.LANGUAGES)
def test_catalogs_hold_exactly_the_english_messages(templates: Path, language: str):
    folder = translations.LOCALE / language / "LC_MESSAGES"
    pages = {pot.relative_to(templates).with_suffix(".po") for pot in templates.rglob("*.pot")}
    catalogs = {po.relative_to(folder) for po in folder.rglob("*.po")}
    assert pages, "the gettext builder extracted nothing"
    assert catalogs == pages, (
        f"catalogs without a page {catalogs - pages}, pages without {pages - catalogs}"
    )
    stale = []
    for page in sorted(pages):
        english = {entry.msgid for entry in polib.pofile(str(templates / page.with_suffix(".pot")))}
        translated = {e.msgid for e in polib.pofile(str(folder / page)) if not e.obsolete}
        stale += [f"{page}: new English {m[:70]!r}" for m in sorted(english - translated)]
        stale += [f"{page}: English gone {m[:70]!r}" for m in sorted(translated - english)]
    assert stale == [], "run `make translations` and translate:\n" + "\n".join(stale)


@pytest.mark.parametrize("language", translations.LANGUAGES)
def test_every_message_is_translated_faithfully(language: str):
    problems = [
        line
        for path in translations.catalogs(language)
        for line in translations.check_catalog(path, TERMS)
    ]
    assert problems == [], f"{len(problems)} problems:\n" + "\n".join(problems[:40])


def test_the_glossary_gives_every_term_a_chinese_name():
    assert len(TERMS) >= 30
    assert TERMS["Attention (注意力机制)"] == ["注意力机制"]
    assert TERMS["Query, key, value (查询、键、值)"] == ["查询", "键", "值"]


def _entry(msgid: str, msgstr: str, **kwargs) -> polib.POEntry:
    return polib.POEntry(msgid=msgid, msgstr=msgstr, **kwargs)


SOURCE = "With {glue:text}`n:d` keys, $d_k$ and `sdpa`, the {term}`temperature <Temperature (温度)>` wins."


def test_a_faithful_translation_passes():
    good = "有 {glue:text}`n:d` 个键、$d_k$ 和 `sdpa` 时，{term}`温度 <Temperature (温度)>` 胜出。"
    assert translations.check_entry(_entry(SOURCE, good), TERMS) == []


@pytest.mark.parametrize(
    "msgstr,problem",
    [
        ("", "not translated"),
        (
            "有个键、$d_k$ 和 `sdpa` 时，{term}`温度 <Temperature (温度)>` 胜出。",
            "markup lost: glue:text",
        ),
        (
            "有 {glue:text}`n:d` 个键、$d$ 和 `sdpa` 时，{term}`温度 <Temperature (温度)>`。",
            "markup lost: math",
        ),
        (
            "有 {glue:text}`n:d` 个键、$d_k$ 和 sdpa 时，{term}`温度 <Temperature (温度)>`。",
            "markup lost: code",
        ),
        (
            "有 {glue:text}`n:d` 个键、$d_k$ 和 `sdpa`，{term}`temperature <Temperature (温度)>`。",
            "glossary link",
        ),
        (SOURCE, "identical to the English"),
        (
            "With {glue:text}`n:d` keys, $d_k$, `sdpa`, {term}`温度 <Temperature (温度)>`.",
            "no Chinese",
        ),
    ],
)
def test_an_unfaithful_translation_is_named(msgstr: str, problem: str):
    problems = translations.check_entry(_entry(SOURCE, msgstr), TERMS)
    assert any(p.startswith(problem) for p in problems), problems


def test_fuzzy_and_obsolete_messages_fail():
    fuzzy = _entry(SOURCE, "旧的译文", flags=["fuzzy"])
    assert any(p.startswith("fuzzy") for p in translations.check_entry(fuzzy, TERMS))
    gone = _entry(SOURCE, "旧的译文", obsolete=True)
    assert translations.check_entry(gone, TERMS)[0].startswith("obsolete")


def test_math_only_and_marked_messages_may_stay_as_they_are():
    assert translations.check_entry(_entry("$$a = b$$", "$$a = b$$"), TERMS) == []
    title = "Vaswani et al., Attention is all you need"
    assert translations.check_entry(_entry(title, title, tcomment="same-as-source"), TERMS) == []


def test_edition_links_point_to_the_same_page():
    assert edition_links("en", "book/01_background") == [
        ("zh_CN", "中文", "../zh_CN/book/01_background.html")
    ]
    assert edition_links("zh_CN", "book/01_background") == [
        ("en", "English", "../../book/01_background.html")
    ]
    assert edition_links("zh_CN", "index") == [("en", "English", "../index.html")]


def test_every_translated_edition_has_a_build_config_and_a_make_target() -> None:
    """One list of editions (book_i18n.EDITIONS): the catalogs, the build and make book follow it."""
    from tools import build_edition

    assert set(translations.LANGUAGES) == set(build_edition.EDITION_CONFIG)
    makefile = (translations.ROOT / "Makefile").read_text(encoding="utf-8")
    for language in translations.LANGUAGES:
        assert f"book-{language}" in makefile
        assert translations.catalogs(language), f"no catalogs for {language}"
