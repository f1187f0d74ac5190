"""Tests for attnbook.models.cross_modal, attnbook.data.phrases and attnbook.data.digit_canvas."""

from __future__ import annotations

import re

import pytest
import torch

from attnbook.data.digit_canvas import make_digit_canvases
from attnbook.data.phrases import (
    ANSWERS,
    VOCAB,
    decode,
    encode,
    make_grounding_data,
    make_queries,
)
from attnbook.models.cross_modal import CrossModalReader, column_windows, pack_inputs


def test_canvases_hold_three_distinct_digits_and_split_pools() -> None:
    images, slots = make_digit_canvases("train", 50, seed=0)
    assert images.shape == (50, 8, 24) and slots.shape == (50, 3)
    assert all(len(set(row)) == 3 for row in slots.tolist())
    assert 0.0 <= images.min() and images.max() <= 1.0
    again, _ = make_digit_canvases("train", 50, seed=0)
    assert torch.equal(images, again)
    test_images, _ = make_digit_canvases("test", 400, seed=0)
    train_images, _ = make_digit_canvases("train", 400, seed=0)
    train_scans = {
        tuple(x.flatten().tolist())
        for x in train_images.unfold(2, 8, 8).permute(0, 2, 1, 3).reshape(-1, 64)
    }
    test_scans = {
        tuple(x.flatten().tolist())
        for x in test_images.unfold(2, 8, 8).permute(0, 2, 1, 3).reshape(-1, 64)
    }
    assert not train_scans & test_scans


def test_queries_answers_match_slots() -> None:
    slots = torch.tensor([[3, 7, 1], [0, 9, 4], [5, 2, 8]] * 20)
    tokens, answers, kinds, phrases = make_queries(slots, seed=0)
    assert tokens.shape == (60, 6) and set(kinds.tolist()) == {0, 1}
    for row, answer, phrase in zip(slots.tolist(), answers.tolist(), phrases, strict=True):
        if answer >= 10:  # where-query: the named digit sits in the answered slot
            assert ANSWERS[row[answer - 10]] in phrase.split()
        else:
            side = next(w for w in phrase.split() if w in ("left", "middle", "right"))
            assert row[("left", "middle", "right").index(side)] == answer
    assert decode(encode("find the seven")) == "find the seven"


def test_patchify_windows() -> None:
    images = torch.arange(2 * 8 * 24, dtype=torch.float32).reshape(2, 8, 24)
    windows = column_windows(images, 8, 2)
    assert windows.shape == (2, 9, 64)
    torch.testing.assert_close(windows[:, 4], images[:, :, 8:16].reshape(2, 64))


def test_reader_shapes_and_packing() -> None:
    torch.manual_seed(0)
    images, tokens, _, _ = make_grounding_data("train", 5)
    for per_word in (True, False):
        model = CrossModalReader(len(VOCAB), len(ANSWERS), per_word=per_word)
        logits, weights = model.answer(images, tokens)
        assert logits.shape == (5, 13)
        assert weights.shape == (5, 2, 6 if per_word else 1, 9)
        torch.testing.assert_close(model(pack_inputs(images, tokens)), logits)


_IMAGES = torch.zeros(2, 8, 24)
_TOKENS = torch.ones(2, 6, dtype=torch.long)
_MODEL = CrossModalReader(len(VOCAB), len(ANSWERS))

BAD_INPUTS = [
    (make_digit_canvases, ("valid", 3), ValueError, "split must be 'train' or 'test'"),
    (make_digit_canvases, ("train", 0), ValueError, "n must be >= 1"),
    (encode, ("what is the cat",), ValueError, "outside the vocabulary: ['cat']"),
    (encode, ("",), ValueError, "must have 1..6 words"),
    (encode, (3,), TypeError, "phrase must be a str"),
    (decode, (torch.tensor([1.0]),), TypeError, "1-D int64"),
    (decode, (torch.tensor([99]),), ValueError, "token ids must lie in"),
    (make_queries, (torch.zeros(3, 2, dtype=torch.long),), ValueError, "shape (N, 3)"),
    (make_queries, (torch.full((3, 3), 10),), ValueError, "0..9"),
    (make_queries, (torch.zeros(3, 3),), TypeError, "int64"),
    (column_windows, (torch.zeros(1, 8, 24), 7, 2), ValueError, "do not tile"),
    (column_windows, (torch.zeros(8, 24), 8, 2), ValueError, "(B, H, W)"),
    (pack_inputs, (_IMAGES, _TOKENS[:1]), ValueError, "must share the batch size"),
    (pack_inputs, (_IMAGES, _TOKENS.float()), TypeError, "int64"),
    (_MODEL.answer, (torch.zeros(2, 8, 16), _TOKENS), ValueError, "(B, 8, 24)"),
    (_MODEL.answer, (_IMAGES, torch.ones(2, 7, dtype=torch.long)), ValueError, "1..6 positions"),
    (_MODEL.answer, (_IMAGES, _TOKENS * 99), ValueError, "token ids must lie in 0..24"),
    (_MODEL, (torch.zeros(2, 192),), ValueError, "packed must have shape (B, 192 + L)"),
    (CrossModalReader, (25, 13, 0), TypeError, "positional"),
]


@pytest.mark.parametrize(("func", "args", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(func, args, error, fragment) -> None:
    if fragment == "positional":
        with pytest.raises(ValueError, match=re.escape("windows of width 7 and stride 2")):
            func(25, 13, window=7)
        with pytest.raises(ValueError, match="d_model must be >= 1"):
            func(25, 13, d_model=0)
        return
    with pytest.raises(error, match=re.escape(fragment)):
        func(*args)
