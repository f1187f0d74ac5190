"""Chinese search indexes character pairs as well as jieba's words (the _ext/book_search_zh.py rule)."""

from __future__ import annotations

from book_search_zh import SearchChinesePairs, character_pairs


def test_character_pairs_cover_each_run_of_chinese():
    assert character_pairs("核回归 kernel regression，多任务") == ["核回", "回归", "多任", "任务"]
    assert character_pairs("softmax 的") == []


def test_a_query_typed_as_one_word_is_indexed_pair_by_pair():
    search = SearchChinesePairs({})
    words = search.split("Nadaraya–Watson 核回归在深度学习之前就有了")
    assert {"核回", "回归", "Nadaraya", "Watson"} <= set(words)
    assert "splitQuery" in search.js_splitter_code
