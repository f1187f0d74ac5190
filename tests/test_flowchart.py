"""Tests for attnbook.models.flowchart: the model is the article's diagram, node for node."""

from __future__ import annotations

import pytest
import torch

from attnbook.models.flowchart import EDGES, NODES, FlowchartNet, TaskAttention

DIAGRAM_ORDER = ["A", "B", "C", "D", "E", "F"]


def _visit_order(model: FlowchartNet, x: torch.Tensor) -> tuple[list[str], dict[str, tuple]]:
    order: list[str] = []
    shapes: dict[str, tuple] = {}
    by_name = {name: node for node, name in NODES.items()}
    handles = []
    for name, module in model.named_children():

        def hook(_module, _inputs, output, name=name) -> None:
            order.append(by_name[name])
            out = output if isinstance(output, torch.Tensor) else output[0]
            shapes[by_name[name]] = tuple(out.shape)

        handles.append(module.register_forward_hook(hook))
    model(x)
    for handle in handles:
        handle.remove()
    return order, shapes


def test_every_node_has_its_module_and_nothing_else() -> None:
    model = FlowchartNet()
    assert set(NODES.values()) == {name for name, _ in model.named_children()}
    assert set(NODES) == {a for a, _ in EDGES} | {b for _, b in EDGES}


def test_forward_visits_nodes_in_diagram_order() -> None:
    order, shapes = _visit_order(FlowchartNet(), torch.rand(3, 1, 12, 12))
    assert order == DIAGRAM_ORDER
    # each edge goes forward in the visiting order
    assert all(order.index(a) < order.index(b) for a, b in EDGES)
    assert shapes == {
        "A": (3, 1, 12, 12),
        "B": (3, 36, 32),
        "C": (3, 2, 128),
        "D": (3, 10),
        "E": (3, 10),
        "F": (3, 10),
    }


def test_attention_weights_are_distributions() -> None:
    model = FlowchartNet()
    weights = model.attention_weights(torch.rand(4, 1, 12, 12))
    assert weights.shape == (4, 2, 4, 36)
    assert torch.allclose(weights.sum(-1), torch.ones(4, 2, 4))
    assert model.training


def test_outputs_are_two_logit_tensors() -> None:
    left, right = FlowchartNet(classes=10)(torch.rand(2, 1, 12, 12))
    assert left.shape == right.shape == (2, 10)


def test_shared_parameters_exclude_task_parts() -> None:
    model = FlowchartNet()
    shared = {id(p) for p in model.shared_parameters()}
    assert id(model.multitask.queries) not in shared
    assert not shared & {id(p) for p in model.task1.parameters()}
    assert {id(p) for p in model.features.parameters()} <= shared


BAD_INPUTS = [
    (FlowchartNet(), (torch.rand(2, 12, 12),), ValueError, "at least 4 dimensions"),
    (FlowchartNet(), (torch.rand(2, 3, 12, 12),), ValueError, r"\(B, 1, H, W\)"),
    (FlowchartNet(), (torch.ones(2, 1, 12, 12, dtype=torch.int64),), TypeError, "floating-point"),
    (FlowchartNet(), ([[0.0]],), TypeError, "torch.Tensor"),
    (FlowchartNet(), (torch.rand(2, 1, 16, 16),), ValueError, "positions"),
    (FlowchartNet, (0,), ValueError, "d must be >= 1"),
    (TaskAttention, (8, 0), ValueError, "n_tasks must be >= 1"),
    (TaskAttention, (8, 2, 0), ValueError, "queries_per_task must be >= 1"),
]


@pytest.mark.parametrize(("fn", "args", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(fn, args, error, fragment) -> None:
    with pytest.raises(error, match=fragment):
        fn(*args)
