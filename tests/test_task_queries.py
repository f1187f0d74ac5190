"""Tests for the colour-sums data set and the per-task attention-query model (chapter 2.3)."""

from __future__ import annotations

import re

import pytest
import torch

from attnbook.data.colour_sums import make_colour_sums
from attnbook.models.task_queries import TaskQueryPooling
from attnbook.train import fit


def test_colour_sums_shapes_labels_and_seed() -> None:
    items, labels = make_colour_sums(500, 8, seed=3)
    assert items.shape == (500, 8, 3) and labels.shape == (500, 2)
    assert torch.equal(items[..., 0] + items[..., 1], torch.ones(500, 8))
    red = items[..., 0].bool()
    assert bool(red.any(1).all()) and bool((~red).any(1).all())
    red_sum = (items[..., 2] * items[..., 0]).sum(1)
    assert torch.equal(labels[:, 0], (red_sum > 0).long())
    assert 0.4 < labels.float().mean().item() < 0.6
    again, _ = make_colour_sums(500, 8, seed=3)
    assert torch.equal(items, again)


def test_model_shapes_and_weights() -> None:
    torch.manual_seed(0)
    model = TaskQueryPooling(3, 8, 2, 2)
    items, _ = make_colour_sums(4, 6)
    assert model(items).shape == (4, 2, 2)
    weights = model.attention_weights(items)
    assert weights.shape == (4, 2, 6)
    assert torch.allclose(weights.sum(-1), torch.ones(4, 2))


def test_each_task_query_learns_its_colour() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny model: one thread is faster, and robust on a busy machine
    torch.manual_seed(0)
    model = TaskQueryPooling(3, 16, 2, 2)
    items, labels = make_colour_sums(2000, 10, seed=0)
    try:
        history = fit(model, (items, labels), epochs=12, batch_size=100, lr=1e-2, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert history.last["train_accuracy"] > 0.9
    weights = model.attention_weights(items[:200]).detach()
    red = items[:200, :, 0]
    assert (weights[:, 0] * red).sum(-1).mean() > 0.8
    assert (weights[:, 1] * (1 - red)).sum(-1).mean() > 0.8


MODEL = TaskQueryPooling(3, 8, 2, 2)
BAD_INPUTS = [
    (make_colour_sums, (0,), ValueError, "n must be >= 1"),
    (make_colour_sums, (10, 1), ValueError, "length must be >= 2"),
    (make_colour_sums, (10, 2.0), TypeError, "length must be an int"),
    (TaskQueryPooling, (3, 8, 0, 2), ValueError, "num_tasks must be >= 1"),
    (MODEL, (torch.zeros(2, 5, 4),), ValueError, "items must have shape (batch, length, 3)"),
    (MODEL, (torch.zeros(5, 3),), ValueError, "items must have shape (batch, length, 3)"),
    (MODEL, (torch.zeros(2, 5, 3, dtype=torch.long),), TypeError, "items must be a floating-point"),
    (MODEL.attention_weights, (torch.zeros(2, 0, 3),), ValueError, "items must have shape"),
]


@pytest.mark.parametrize(("function", "args", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(function, args, error, fragment) -> None:
    with pytest.raises(error, match=re.escape(fragment)):
        function(*args)
