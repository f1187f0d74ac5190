"""Tests for attnbook.data.dates."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import torch

from attnbook.data.dates import (
    FORMATS,
    SOURCE_ALPHABET,
    TARGET_ALPHABET,
    CharVocab,
    date_field_spans,
    encode_pairs,
    make_date_splits,
    make_date_train_val_test,
    render_date,
)


def test_render_every_format_hand_checked() -> None:
    day = dt.date(2021, 3, 3)
    rendered = {fmt: render_date(day, fmt) for fmt in FORMATS}
    assert rendered == {
        "d Month yyyy": "3 March 2021",
        "Month d, yyyy": "March 3, 2021",
        "Mon d yyyy": "Mar 3 2021",
        "dd.mm.yyyy": "03.03.2021",
        "yyyy/m/d": "2021/3/3",
        "dth of Mon yyyy": "3rd of Mar 2021",
        "MONTH d yyyy": "MARCH 3 2021",
        "dd mon yyyy": "03 mar 2021",
    }
    assert render_date(dt.date(1999, 12, 11), "dth of Mon yyyy") == "11th of Dec 1999"
    assert render_date(dt.date(1999, 12, 22), "dth of Mon yyyy") == "22nd of Dec 1999"


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_field_spans_find_each_field(fmt: str) -> None:
    day = dt.date(1987, 11, 9)
    source = render_date(day, fmt)
    spans = date_field_spans(source)
    assert source[slice(*spans["year"])] == "1987"
    assert source[slice(*spans["day"])] in {"9", "09"}
    month = source[slice(*spans["month"])]
    assert month in {"11", "Nov", "November", "NOVEMBER", "nov"}


def test_vocab_round_trip() -> None:
    vocab = CharVocab(SOURCE_ALPHABET)
    ids = vocab.encode("3rd of Mar 2021", 20)
    assert ids.shape == (20,) and ids[-1] == 0 and ids.dtype == torch.int64
    assert vocab.decode(ids) == "3rd of Mar 2021"
    assert len(CharVocab(TARGET_ALPHABET)) == 12


def test_splits_are_disjoint_by_day_and_seeded() -> None:
    train, test, source_vocab, target_vocab = make_date_splits(300, 100, seed=1)
    assert len(train) == 300 and len(test) == 100
    assert not {t for _, t, _ in train.texts} & {t for _, t, _ in test.texts}
    assert train.targets.shape == (300, 10)
    assert target_vocab.decode(train.targets[0]) == train.texts[0][1]
    assert source_vocab.decode(train.sources[0]) == train.texts[0][0]
    assert train.lengths[0] == len(train.texts[0][0])
    again = make_date_splits(300, 100, seed=1)[0]
    assert torch.equal(again.sources, train.sources)


BAD_INPUTS = [
    (render_date, ("2021-03-03", "dd.mm.yyyy"), TypeError, "datetime.date"),
    (render_date, (dt.date(2021, 3, 3), "mm/dd"), ValueError, "unknown format"),
    (date_field_spans, ("hello world",), ValueError, "not a date"),
    (date_field_spans, (20210303,), TypeError, "str"),
    (CharVocab, ("",), ValueError, "non-empty"),
    (CharVocab, ("aab",), ValueError, "repeated"),
    (lambda: CharVocab("ab").encode("abc", 2), (), ValueError, "more than length"),
    (lambda: CharVocab("ab").encode("ac", 3), (), ValueError, "not in the alphabet"),
    (lambda: CharVocab("ab").decode(torch.zeros(2, 2)), (), ValueError, "1-D"),
    (encode_pairs, ([], CharVocab("a"), CharVocab("b")), ValueError, "empty"),
    (make_date_splits, (0, 10), ValueError, "num_train"),
    (make_date_splits, (10, 10, 2000, 1999), ValueError, "first_year"),
    (make_date_splits, (400, 10, 2000, 2000), ValueError, "distinct days"),
    (make_date_splits, (10, 10, 1950, 2049, -3), ValueError, "seed"),
]


@pytest.mark.parametrize(("func", "args", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(func, args, error, fragment) -> None:
    with pytest.raises(error, match=re.escape(fragment)):
        func(*args)


def test_train_val_test_days_are_disjoint() -> None:
    train, val, test, _, _ = make_date_train_val_test(300, 100, 50, seed=0)
    assert (len(train), len(val), len(test)) == (300, 100, 50)
    days = [{target for _, target, _ in split.texts} for split in (train, val, test)]
    assert sum(len(d) for d in days) == len(set.union(*days)) == 450
    assert val.sources.shape[1] == train.sources.shape[1]
    with pytest.raises(ValueError, match="start < stop"):
        train.subset(5, 5)
