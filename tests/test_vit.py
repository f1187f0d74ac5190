"""Tests for attnbook.models.vit."""

from __future__ import annotations

import re

import pytest
import torch

from attnbook.models.transformer import TransformerBlock
from attnbook.models.vit import (
    DigitCNN,
    PixelMLP,
    TinyViT,
    count_parameters,
    patchify,
    training_step_flops,
)


def test_patchify_row_major_patches() -> None:
    images = torch.arange(2 * 8 * 8, dtype=torch.float32).reshape(2, 8, 8)
    patches = patchify(images, 2)
    assert patches.shape == (2, 16, 4)
    assert torch.equal(patches[1, 0], images[1, 0:2, 0:2].reshape(-1))
    assert torch.equal(patches[0, 6], images[0, 2:4, 4:6].reshape(-1))
    assert torch.equal(patchify(images[:, None], 4), patchify(images, 4))


def test_vit_shapes_and_attention() -> None:
    torch.manual_seed(0)
    model = TinyViT(d_model=16, num_heads=2, num_layers=3, mlp_dim=32)
    logits, weights = model.forward_with_attention(torch.rand(5, 8, 8))
    assert logits.shape == (5, 10)
    assert len(weights) == 3 and weights[0].shape == (5, 2, 17, 17)
    assert torch.allclose(weights[-1].sum(-1), torch.ones(5, 2, 17), atol=1e-5)
    assert model.patch_position_embeddings().shape == (16, 16)
    assert model(torch.rand(1, 1, 8, 8)).shape == (1, 10)


def test_vit_without_positions_is_permutation_invariant() -> None:
    torch.manual_seed(0)
    model = TinyViT(d_model=16, num_heads=2).eval()
    images = torch.rand(3, 8, 8)
    patches = patchify(images, 2)
    perm = torch.randperm(16)
    shuffled = patches[:, perm].reshape(3, 4, 4, 2, 2).permute(0, 1, 3, 2, 4).reshape(3, 8, 8)
    assert torch.allclose(patchify(shuffled, 2), patches[:, perm])
    # positions start at zero, so the untrained model cannot tell patch order apart
    assert torch.allclose(model(images), model(shuffled), atol=1e-5)


def test_blocks_are_the_books_transformer_block_and_mlp_and_count() -> None:
    model = TinyViT(d_model=8, num_heads=2, num_layers=2, mlp_dim=16, dropout=0.1)
    for block in model.blocks:
        assert isinstance(block, TransformerBlock) and block.norm_first
        assert (block.activation, block.d_ff, block.dropout.p) == ("gelu", 16, 0.1)
        assert block.attention_dropout.p == 0.0  # ViT drops hidden units, not attention weights
    mlp = PixelMLP(64, 10, 10)
    assert mlp(torch.rand(4, 8, 8)).shape == (4, 10)
    assert count_parameters(mlp) == 64 * 10 + 10 + 10 * 10 + 10 + 10 * 10 + 10


def test_vit_learns_a_tiny_problem() -> None:
    torch.manual_seed(0)
    images = torch.zeros(64, 8, 8)
    labels = torch.arange(64) % 2
    images[labels == 0, :4] = 1.0  # class 0: ink in the top half
    images[labels == 1, 4:] = 1.0  # class 1: ink in the bottom half
    model = TinyViT(num_classes=2, d_model=16, num_heads=2, num_layers=1, mlp_dim=16)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(30):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
    assert (model(images).argmax(-1) == labels).all()


BAD_INPUTS = [
    (patchify, (torch.zeros(2, 8, 8, dtype=torch.int64), 2), TypeError, "floating-point"),
    (patchify, (torch.zeros(8, 8), 2), ValueError, "(batch, H, W)"),
    (patchify, (torch.zeros(1, 8, 8), 3), ValueError, "not divisible"),
    (patchify, (torch.zeros(1, 8, 8), 0), ValueError, "patch_size"),
    (TinyViT, (8, 3), ValueError, "not divisible"),
    (TinyViT, (8, 2, 10, 30, 4), ValueError, "divisible by num_heads"),
    (lambda: TinyViT()(torch.zeros(2, 6, 6)), (), ValueError, "8×8"),
    (lambda: PixelMLP(64)(torch.zeros(2, 7, 7)), (), ValueError, "64 values"),
    (lambda: TinyViT(dropout=1.5), (), ValueError, "dropout"),
    (count_parameters, ("model",), TypeError, "nn.Module"),
]


@pytest.mark.parametrize(("func", "args", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs(func, args, error, fragment) -> None:
    with pytest.raises(error, match=re.escape(fragment)):
        func(*args)


def test_digit_cnn_shapes_and_locality() -> None:
    torch.manual_seed(0)
    model = DigitCNN()
    assert model(torch.rand(3, 8, 8)).shape == (3, 10)
    assert model(torch.rand(3, 1, 8, 8)).shape == (3, 10)
    assert count_parameters(model) == 18154  # about the tiny ViT's 18218
    for bad, error in (((3, 7, 7), ValueError), ((3, 64), ValueError)):
        with pytest.raises(error):
            model(torch.rand(*bad))
    with pytest.raises(ValueError, match="divisible by 4"):
        DigitCNN(image_size=6)
    with pytest.raises(ValueError, match="pair"):
        DigitCNN(channels=(4, 4, 4))


def test_training_step_flops_counts_matrix_products() -> None:
    torch.manual_seed(0)
    layer = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    images, labels = torch.rand(4, 8, 8), torch.zeros(4, dtype=torch.long)
    # forward 2·B·in·out; backward: grad of the weight only (the input needs none), the same again
    assert training_step_flops(layer, images, labels) == 2 * (2 * 4 * 64 * 10)
    assert all(p.grad is None for p in layer.parameters())
    vit, mlp = TinyViT(), PixelMLP(64, 96)
    assert training_step_flops(vit, images, labels) > 10 * training_step_flops(mlp, images, labels)
    with pytest.raises(ValueError, match="labels"):
        training_step_flops(layer, images, labels[:2])
    with pytest.raises(TypeError):
        training_step_flops("model", images, labels)
