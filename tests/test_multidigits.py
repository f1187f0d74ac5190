"""Tests for attnbook.data.multidigits: shapes, determinism, label balance, no leakage."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnbook.data.multidigits import (
    DEFAULT_SIZES,
    digit_sources,
    make_multidigits,
    source_pools,
)


def test_shapes_dtypes_and_range() -> None:
    images, left, right = make_multidigits("val", seed=0, n=50)
    assert images.shape == (50, 1, 12, 12) and images.dtype == torch.float32
    assert left.shape == right.shape == (50,) and left.dtype == torch.int64
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    assert int(left.min()) >= 0 and int(left.max()) <= 9


def test_default_sizes_and_canvas() -> None:
    images, _, _ = make_multidigits("test")
    assert len(images) == DEFAULT_SIZES["test"]
    big, _, _ = make_multidigits("val", n=5, canvas=16)
    assert big.shape == (5, 1, 16, 16)


def test_deterministic_and_seed_dependent() -> None:
    a = make_multidigits("train", seed=3, n=40)
    b = make_multidigits("train", seed=3, n=40)
    c = make_multidigits("train", seed=4, n=40)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a[0], c[0])


def test_labels_balanced_and_independent() -> None:
    _, left, right = make_multidigits("train", seed=0, n=1000)
    assert torch.bincount(left, minlength=10).tolist() == [100] * 10
    assert torch.bincount(right, minlength=10).tolist() == [100] * 10
    assert 0.03 < float((left == right).float().mean()) < 0.2  # independent: about 1 in 10


def test_labels_match_source_scans() -> None:
    _, left, right, sources = make_multidigits("val", seed=1, n=60, return_sources=True)
    _, labels = digit_sources()
    assert sources.shape == (60, 2)
    assert np.array_equal(labels[sources[:, 0].numpy()], left.numpy())
    assert np.array_equal(labels[sources[:, 1].numpy()], right.numpy())
    assert bool((sources[:, 0] != sources[:, 1]).all())


def test_canvas_contains_both_digits() -> None:
    images, _, _, sources = make_multidigits("val", seed=0, n=20, return_sources=True)
    scans, _ = digit_sources()
    for image, (a, b) in zip(images[:, 0].numpy(), sources.numpy(), strict=True):
        # the canvas is the max of two placed scans: its ink is at least each scan's ink
        assert image.sum() >= max(scans[a].sum(), scans[b].sum()) - 1e-4
        assert image.max() == pytest.approx(max(scans[a].max(), scans[b].max()))


@pytest.mark.parametrize("seed", [0, 7])
def test_pools_disjoint_and_cover_everything(seed: int) -> None:
    pools = source_pools(seed)
    train, val, test = (set(pools[s].tolist()) for s in ("train", "val", "test"))
    assert not train & test and not train & val and not val & test
    assert len(train | val | test) == 1797
    assert 1050 < len(train) < 1110 and 330 < len(test) < 390


def test_no_leakage_of_scans_into_test() -> None:
    _, _, _, train_src = make_multidigits("train", seed=0, return_sources=True)
    _, _, _, test_src = make_multidigits("test", seed=0, return_sources=True)
    _, _, _, val_src = make_multidigits("val", seed=0, return_sources=True)
    train_set = set(train_src.flatten().tolist())
    assert not train_set & set(test_src.flatten().tolist())
    assert not train_set & set(val_src.flatten().tolist())


BAD_INPUTS = [
    (make_multidigits, ("training",), {}, ValueError, "split must be one of"),
    (make_multidigits, (3,), {}, ValueError, "split must be one of"),
    (make_multidigits, ("train",), {"seed": -1}, ValueError, "seed must be a non-negative"),
    (make_multidigits, ("train",), {"seed": 1.5}, ValueError, "seed must be a non-negative"),
    (make_multidigits, ("train",), {"n": 0}, ValueError, "n must be >= 1"),
    (make_multidigits, ("train",), {"n": 2.0}, TypeError, "n must be an int"),
    (make_multidigits, ("train",), {"canvas": 9}, ValueError, "canvas must be >= 10"),
    (source_pools, (-2,), {}, ValueError, "seed must be a non-negative"),
]


@pytest.mark.parametrize(("fn", "args", "kwargs", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(fn, args, kwargs, error, fragment) -> None:
    with pytest.raises(error, match=fragment):
        fn(*args, **kwargs)


def test_left_only_keeps_the_left_digit_of_the_two_digit_twin() -> None:
    both, left, right, sources = make_multidigits("test", seed=1, n=40, return_sources=True)
    alone, left_a, right_a, sources_a = make_multidigits(
        "test", seed=1, n=40, return_sources=True, left_only=True
    )
    assert torch.equal(left, left_a) and torch.equal(right, right_a)
    assert torch.equal(sources, sources_a)
    assert (alone <= both).all()  # the two-digit canvas is the pixel-wise max
    images, _ = digit_sources()
    for i in range(40):
        assert alone[i].sum().item() == pytest.approx(
            float(images[int(sources[i, 0])].sum()), rel=1e-5
        )
