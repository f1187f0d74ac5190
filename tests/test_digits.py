"""Tests for attnbook.data.digits: bundled digits, seeded stratified splits, reshapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnbook.data.digits import (
    NUM_CLASSES,
    as_pixel_vectors,
    as_row_tokens,
    digit_arrays,
    load_digit_splits,
)


def test_arrays_are_scaled_and_read_only() -> None:
    images, labels = digit_arrays()
    assert images.shape == (1797, 8, 8) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    assert labels.shape == (1797,) and set(labels.tolist()) == set(range(NUM_CLASSES))
    with pytest.raises(ValueError):
        images[0, 0, 0] = 1.0


def test_splits_are_disjoint_complete_and_stratified() -> None:
    splits = load_digit_splits(0)
    sets = [set(splits.indices[name].tolist()) for name in ("train", "val", "test")]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert len(sets[0] | sets[1] | sets[2]) == 1797
    assert sum(splits.sizes.values()) == 1797
    assert abs(splits.sizes["test"] - 0.2 * 1797) <= NUM_CLASSES
    _, all_labels = digit_arrays()
    overall = np.bincount(all_labels, minlength=NUM_CLASSES) / len(all_labels)
    for name in ("train", "val", "test"):
        images, labels = getattr(splits, name)
        assert images.dtype == torch.float32 and images.shape[1:] == (8, 8)
        assert labels.dtype == torch.int64 and len(labels) == len(images)
        share = np.bincount(labels.numpy(), minlength=NUM_CLASSES) / len(labels)
        assert np.abs(share - overall).max() < 0.01


def test_splits_match_the_source_and_depend_on_seed() -> None:
    images, labels = digit_arrays()
    splits = load_digit_splits(3)
    test_images, test_labels = splits.test
    assert np.array_equal(test_images.numpy(), images[splits.indices["test"]])
    assert np.array_equal(test_labels.numpy(), labels[splits.indices["test"]])
    again = load_digit_splits(3)
    assert np.array_equal(again.indices["train"], splits.indices["train"])
    other = load_digit_splits(4)
    assert not np.array_equal(other.indices["train"], splits.indices["train"])


def test_fractions_are_respected() -> None:
    splits = load_digit_splits(0, val_fraction=0.1, test_fraction=0.3)
    assert abs(splits.sizes["val"] - 180) <= NUM_CLASSES
    assert abs(splits.sizes["test"] - 539) <= NUM_CLASSES


def test_reshapes() -> None:
    images, _ = load_digit_splits(0).val
    tokens = as_row_tokens(images)
    assert torch.equal(tokens[:, 2], images[:, 2, :])
    flat = as_pixel_vectors(images)
    assert flat.shape == (len(images), 64)
    assert torch.equal(flat[:, 8:16], images[:, 1, :])


BAD_INPUTS = [
    (load_digit_splits, (-1,), {}, ValueError, "seed"),
    (load_digit_splits, (1.5,), {}, ValueError, "seed"),
    (load_digit_splits, (0,), {"val_fraction": 0.0}, ValueError, "val_fraction"),
    (load_digit_splits, (0,), {"test_fraction": 1.2}, ValueError, "test_fraction"),
    (load_digit_splits, (0,), {"test_fraction": "0.2"}, TypeError, "test_fraction"),
    (load_digit_splits, (0,), {"val_fraction": 0.5, "test_fraction": 0.5}, ValueError, "< 1"),
    (as_row_tokens, (torch.zeros(4, 64),), {}, ValueError, "(N, 8, 8)"),
    (as_row_tokens, (torch.zeros(4, 8, 8, dtype=torch.int64),), {}, TypeError, "dtype"),
    (as_pixel_vectors, (np.zeros((4, 8, 8)),), {}, TypeError, "torch.Tensor"),
    (as_pixel_vectors, (torch.zeros(4, 8, 7),), {}, ValueError, "(4, 8, 7)"),
]


@pytest.mark.parametrize(("function", "args", "kwargs", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(function, args, kwargs, error, fragment) -> None:
    with pytest.raises(error, match=None) as info:
        function(*args, **kwargs)
    assert fragment in str(info.value)
