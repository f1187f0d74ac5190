"""Refactor check for the models built from pre-norm blocks: is the new code bit-identical?

    python tools/block_equivalence.py save before.pt     # on the old code
    python tools/block_equivalence.py save after.pt      # on the new code, same machine
    python tools/block_equivalence.py compare before.pt after.pt

Builds SASRec (7c), TinyViT (7b), TinyTransformerClassifier (9d) and DigitRowAttention (6),
each from one seed, trains each for a few Adam steps with dropout on, and keeps the losses,
the attention weights of a final evaluation and every parameter. A refactor may rename parameters and register them in another
order (LayerNorms after the projections), so parameters are compared as a sorted collection of
(shape, bytes). When all are equal, the refactor changes nothing a chapter computes.
"""

from __future__ import annotations

import sys

import torch
from torch import nn

from attnbook.experiments import equivalence
from attnbook.models.digit_rows import DigitRowAttention
from attnbook.models.sasrec import SASRec
from attnbook.models.small_transformer import TinyTransformerClassifier
from attnbook.models.vit import TinyViT


def _train(model: nn.Module, inputs: torch.Tensor, loss_of, steps: int = 6) -> list[float]:
    """A few Adam steps on one fixed batch, dropout on; the loss of each step."""
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    losses = []
    for _ in range(steps):
        loss = loss_of(model, inputs)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return losses


def runs() -> dict[str, tuple]:
    """name -> (losses, final weights, parameters in order) of each model's short seeded run."""
    torch.set_num_threads(1)
    out: dict[str, tuple] = {}

    torch.manual_seed(3)
    items = torch.randint(0, 30, (16, 10))
    items[:4, :3] = -1  # left padding
    targets = torch.randint(0, 30, (16, 10))
    model = SASRec(30, 10, d_model=16, num_heads=2, num_layers=2, dropout=0.2)
    losses = _train(
        model,
        items,
        lambda m, x: nn.functional.cross_entropy(m(x).flatten(0, 1), targets.flatten()),
    )
    model.eval()
    weights = model.forward_with_attention(items)[1]
    out["sasrec"] = (losses, [w.detach() for w in weights], list(model.parameters()))

    torch.manual_seed(4)
    images = torch.rand(16, 8, 8)
    labels = torch.randint(0, 10, (16,))
    model = TinyViT(dropout=0.1)
    losses = _train(model, images, lambda m, x: nn.functional.cross_entropy(m(x), labels))
    model.eval()
    weights = model.forward_with_attention(images)[1]
    out["vit"] = (losses, [w.detach() for w in weights], list(model.parameters()))

    torch.manual_seed(5)
    tokens = torch.randint(2, 20, (16, 12))
    tokens[:5, 8:] = 0  # padding
    labels = torch.randint(0, 3, (16,))
    model = TinyTransformerClassifier(20, 3)
    losses = _train(model, tokens, lambda m, x: nn.functional.cross_entropy(m(x), labels))
    model.eval()
    weights = model.forward_with_attention(tokens)[1]
    out["tiny_transformer"] = (losses, [w.detach() for w in weights], list(model.parameters()))

    torch.manual_seed(6)
    images = torch.rand(16, 8, 8)
    labels = torch.randint(0, 10, (16,))
    model = DigitRowAttention()
    losses = _train(model, images, lambda m, x: nn.functional.cross_entropy(m(x), labels))
    with torch.no_grad():
        seen = [model.attention_weights(images), *model.queries_and_keys(images), model(images)]
    out["digit_rows"] = (losses, seen, list(model.parameters()))
    return {
        name: (losses, weights, sorted(_as_bytes(p) for p in params))
        for name, (losses, weights, params) in out.items()
    }


def _as_bytes(parameter: torch.Tensor) -> tuple[tuple[int, ...], bytes]:
    """A parameter as (shape, raw bytes): sortable, equal exactly when the tensors are."""
    return tuple(parameter.shape), parameter.detach().numpy().tobytes()


if __name__ == "__main__":
    sys.exit(equivalence.main(sys.argv[1:], runs, __doc__))
