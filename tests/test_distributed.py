"""Two gloo processes on CPU take the same steps as one process over the same global batch."""

from __future__ import annotations

import pytest

from attnbook.distributed import single_process_losses, spawn_losses


def test_two_processes_match_one_process() -> None:
    one = single_process_losses(steps=4, global_batch=64)
    two = spawn_losses(world_size=2, steps=4, global_batch=64)
    assert len(one) == len(two) == 4
    assert two == pytest.approx(one, rel=1e-5, abs=1e-6)
    assert len(set(one)) == 4  # every step sees a new batch with updated parameters


BAD_INPUTS = [
    (spawn_losses, (2, 4, 63), ValueError, "divisible by world_size"),
    (spawn_losses, (0,), ValueError, "world_size must be >= 1"),
    (single_process_losses, (0,), ValueError, "steps must be >= 1"),
    (single_process_losses, (2, 0), ValueError, "global_batch must be >= 1"),
]


@pytest.mark.parametrize(("fn", "args", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(fn, args, error, fragment) -> None:
    with pytest.raises(error, match=fragment):
        fn(*args)
