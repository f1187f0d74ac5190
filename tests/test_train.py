"""attnbook.train.count_parameters: a module or an iterable of its parameters."""

from __future__ import annotations

import pytest
from torch import nn

from attnbook.train import count_parameters


def test_module_and_its_parameters_count_the_same() -> None:
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))  # 3·4 + 4 + 4·2 + 2 = 26
    assert count_parameters(net) == 26
    assert count_parameters(net.parameters()) == 26
    assert count_parameters(net[0].parameters()) == 16
    net[1].weight.requires_grad_(False)  # frozen scalars are not trainable
    assert count_parameters(net) == 18


@pytest.mark.parametrize("bad", ["model", 3, nn.Linear(2, 2).weight.detach()])
def test_bad_input_is_named(bad) -> None:
    with pytest.raises(TypeError, match=r"nn\.Module"):
        count_parameters(bad)
    with pytest.raises(TypeError, match="expected parameters"):
        count_parameters([nn.Linear(2, 2).weight, "w"])
