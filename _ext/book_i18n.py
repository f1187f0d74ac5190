"""The book in more than one language: each page links to itself in the other editions, and
glued numbers work inside translated paragraphs.

The English edition is the site's root; another language `xx` is built into `xx/` beside it
(tools/build_edition.py), from the same notebooks with the catalogs in locale/xx.
"""

from __future__ import annotations

import html
from typing import Any

import myst_nb.sphinx_ as myst_nb_sphinx
from docutils import nodes
from myst_nb.sphinx_ import Parser as NotebookParser
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.locale import init as init_locale
from sphinx.transforms import SphinxTransform
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.i18n import docname_to_domain
from sphinx_exercise.nodes import exercise_enumerable_node, exercise_node, exercise_subtitle

# language code -> the name a reader of that language looks for
EDITIONS = {"en": "English", "zh_CN": "中文"}
ROOT_EDITION = "en"

_latest: dict[str, Any] = {}  # "renderer": the notebook renderer made for the page being read
_make_renderer = myst_nb_sphinx.load_renderer
_parse_notebook = NotebookParser.parse


def _recording_load_renderer(name: str) -> Any:
    """MyST-NB's renderer factory, remembering each renderer it makes (the page's, as it is read)."""
    factory = _make_renderer(name)

    def make(*args: Any, **kwargs: Any) -> Any:
        _latest["renderer"] = factory(*args, **kwargs)
        return _latest["renderer"]

    return make


def _parse_with_glue(self: NotebookParser, inputstring: str, document: nodes.document) -> None:
    """Parse a notebook, or one translated message of it with the notebook's glued values.

    Sphinx parses each translated message as a small document of its own, after the page itself
    was read. MyST-NB's glue roles look their values up on the document's notebook renderer, which
    that small document lacks (and the page's own document has dropped by then): lend it the
    renderer of the notebook the message came from.
    """
    renderer = _latest.get("renderer")
    if not document.current_source.endswith("<translated>") or renderer is None:
        _parse_notebook(self, inputstring, document)
        return
    env = document.settings.env
    if renderer.renderer.document["source"] == str(env.doc2path(env.docname)):
        document.attributes["nb_renderer"] = renderer
    try:
        _parse_notebook(self, inputstring, document)
    finally:  # the message's nodes join the page's doctree, which is pickled: drop the renderer
        document.attributes.pop("nb_renderer", None)


class ExerciseTitlesAreMessages(SphinxTransform):
    """Give each exercise's own title a source, so gettext extracts it and Locale translates it.

    sphinx-exercise builds the title node itself, without a source line; Sphinx's i18n skips
    such nodes as "built-in" text. (The titles are plain text: no markup to carry over.)
    """

    default_priority = 10  # before sphinx.transforms.i18n.Locale (20)

    def apply(self, **kwargs: Any) -> None:
        for subtitle in self.document.findall(exercise_subtitle):
            if not subtitle.source:
                subtitle.source = self.document["source"]
                subtitle.line = subtitle.parent.parent.line or 1
                subtitle.rawsource = subtitle.astext()


class ExtractExerciseTitles(SphinxPostTransform):
    """For the gettext builder: add the exercises' titles to the page's catalog.

    The builder extracts messages from the resolved page, where sphinx-exercise (at priority 20)
    has already rebuilt each title without its subtitle node: take them before that.
    """

    builders = ("gettext",)
    default_priority = 15

    def run(self, **kwargs: Any) -> None:
        domain = docname_to_domain(self.env.docname, self.config.gettext_compact)
        catalog = self.app.builder.catalogs[domain]  # type: ignore[attr-defined]
        for subtitle in self.document.findall(exercise_subtitle):
            if subtitle.source and subtitle.rawsource:
                catalog.add(subtitle.rawsource, subtitle)


class RegisterTranslatedExercises(SphinxTransform):
    """Store the translated exercises, which solutions and references take their titles from.

    sphinx-exercise copies each exercise into its registry as the directive runs, before the
    translation: without this a Chinese solution would name its exercise in English.
    """

    default_priority = 25  # after Locale (20)

    def apply(self, **kwargs: Any) -> None:
        registry = getattr(self.env, "sphinx_exercise_registry", {})
        for node in self.document.findall(
            lambda n: isinstance(n, exercise_node | exercise_enumerable_node)
        ):
            if node.get("label") in registry:
                registry[node["label"]]["node"] = node.deepcopy()


def _translate_toc_captions(app: Sphinx, doctree: nodes.document) -> None:
    """Translate the part captions _toc.yml puts in the root page's toctrees.

    sphinx-external-toc inserts the toctrees after Sphinx's Locale transform has run, so their
    captions (Foundations, Practice, ...) are extracted but never replaced: do it here.
    """
    language = app.config.language or ROOT_EDITION
    captioned = [toctree for toctree in doctree.findall(addnodes.toctree) if toctree.get("caption")]
    if language == ROOT_EDITION or not captioned:
        return
    domain = docname_to_domain(app.env.docname, app.config.gettext_compact)
    folders = [str(app.srcdir / folder) for folder in app.config.locale_dirs]
    catalog, found = init_locale(folders, language, domain)
    if not found:
        return
    for toctree in captioned:
        toctree["caption"] = catalog.gettext(toctree["caption"])


def edition_prefix(language: str) -> str:
    """The folder of an edition relative to the site's root: '' for English, 'zh_CN/' for Chinese."""
    return "" if language == ROOT_EDITION else f"{language}/"


def html_language(language: str) -> str:
    """The language as HTML names it (lang, hreflang): zh_CN -> zh-CN."""
    return language.replace("_", "-")


def edition_links(language: str, pagename: str) -> list[tuple[str, str, str]]:
    """(language, name, relative href) of the same page in every other edition."""
    to_root = "../" * pagename.count("/") + ("../" if language != ROOT_EDITION else "")
    return [
        (other, name, f"{to_root}{edition_prefix(other)}{pagename}.html")
        for other, name in EDITIONS.items()
        if other != language
    ]


def _link_editions(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Put a link to this page's other editions at the top of the page, and in its <head>."""
    language = app.config.language or ROOT_EDITION
    if language not in EDITIONS or doctree is None or "body" not in context:
        return
    links = edition_links(language, pagename)
    anchors = " ".join(
        f'<a class="book-edition" href="{html.escape(href)}" hreflang="{html_language(code)}" '
        f'lang="{html_language(code)}">{html.escape(name)}</a>'
        for code, name, href in links
    )
    context["body"] = f'<p class="book-editions">{anchors}</p>\n' + context["body"]
    context["metatags"] = context.get("metatags", "") + "".join(
        f'\n<link rel="alternate" hreflang="{html_language(code)}" href="{html.escape(href)}">'
        for code, _, href in links
    )


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the edition links and the glue-aware notebook parser."""
    NotebookParser.parse = _parse_with_glue  # type: ignore[method-assign]
    myst_nb_sphinx.load_renderer = _recording_load_renderer
    app.connect("html-page-context", _link_editions)
    app.connect("doctree-read", _translate_toc_captions)
    app.add_transform(ExerciseTitlesAreMessages)
    app.add_transform(RegisterTranslatedExercises)
    app.add_post_transform(ExtractExerciseTitles)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
