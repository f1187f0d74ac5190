"""Tests for attnbook.baselines: classical classifiers tuned on validation, tested once."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnbook.baselines import CLASSICAL_GRIDS, tuned_classical_baselines


def _blobs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.Generator(np.random.PCG64(seed))
    labels = np.arange(n) % 3
    images = rng.normal(size=(n, 2, 2)) * 0.3 + labels[:, None, None]
    return torch.tensor(images, dtype=torch.float32), torch.tensor(labels)


def test_tuned_baselines_separate_easy_blobs() -> None:
    train, val, test = _blobs(60, 0), _blobs(30, 1), _blobs(30, 2)
    results = tuned_classical_baselines(train, val, test)
    assert [r.name for r in results] == list(CLASSICAL_GRIDS)
    for result in results:
        assert set(result.params) == set(CLASSICAL_GRIDS[result.name])
        assert result.val_accuracy > 0.9 and result.test_accuracy > 0.9


def test_choice_is_the_first_best_on_validation() -> None:
    train, val, test = _blobs(60, 0), _blobs(30, 1), _blobs(30, 2)
    (knn,) = tuned_classical_baselines(train, val, test, names=["k-nearest neighbours"])
    assert knn.params == {"n_neighbors": 1}  # every k is perfect here; the first one wins


def test_accepts_numpy_and_refuses_bad_inputs() -> None:
    train, val, test = _blobs(30, 0), _blobs(30, 1), _blobs(30, 2)
    as_numpy = tuple((x.numpy(), y.numpy()) for x, y in (train, val, test))
    (logreg,) = tuned_classical_baselines(*as_numpy, names=["logistic regression"])
    assert logreg.test_accuracy > 0.9
    with pytest.raises(ValueError, match="names"):
        tuned_classical_baselines(train, val, test, names=["random forest"])
    with pytest.raises(ValueError, match="same number of features"):
        tuned_classical_baselines(train, (val[0][:, :1], val[1]), test)
    with pytest.raises(ValueError, match=r"labels \(N,\)"):
        tuned_classical_baselines(train, (val[0], val[1][:3]), test)
    with pytest.raises(TypeError, match="pair"):
        tuned_classical_baselines(train, val[0], test)
    bad = val[0].clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        tuned_classical_baselines(train, (bad, val[1]), test)
