"""Chinese search that finds what a reader types: words from jieba plus every pair of characters.

Sphinx's Chinese search indexes the words jieba cuts from the text, but it looks a query up as
typed: "核回归" (kernel regression) finds nothing when jieba indexed "核" and "回归". Indexing
every two-character run as well (as CJK search engines do), and cutting a query into the same
pairs in the browser, finds a page exactly when it contains the query's characters in order
pair by pair; Latin words are searched as before (stemmed, English).
"""

from __future__ import annotations

import re
from typing import Any

from sphinx.application import Sphinx
from sphinx.search.zh import SearchChinese

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def character_pairs(text: str) -> list[str]:
    """Every two consecutive Chinese characters of each run of them in text."""
    return [run[i : i + 2] for run in _CJK_RUN.findall(text) for i in range(len(run) - 1)]


# The browser's half: the same pairs for a query's Chinese, Latin words kept whole.
_JS_SPLITTER = r"""
function splitQuery(query) {
  const cjk = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+/g;
  const terms = [];
  query.split(/[^\p{Letter}\p{Number}_\p{Emoji_Presentation}]+/gu).forEach((token) => {
    if (!token) return;
    const runs = token.match(cjk) || [];
    runs.forEach((run) => {
      if (run.length === 1) terms.push(run);
      for (let i = 0; i + 1 < run.length; i++) terms.push(run.slice(i, i + 2));
    });
    token.replace(cjk, " ").split(" ").forEach((latin) => { if (latin) terms.push(latin); });
  });
  return terms;
}
"""


class SearchChinesePairs(SearchChinese):
    """Sphinx's Chinese search with character pairs indexed and queried beside jieba's words."""

    js_splitter_code = _JS_SPLITTER

    def split(self, input: str) -> list[str]:
        """jieba's words and Latin words (Sphinx's split), then every character pair."""
        return super().split(input) + character_pairs(input)


def setup(app: Sphinx) -> dict[str, Any]:
    """Use the pair-indexing Chinese search wherever the search language is Chinese."""
    app.add_search_language(SearchChinesePairs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
