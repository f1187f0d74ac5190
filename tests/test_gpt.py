"""TinyGPT: the KV cache changes the cost, not the function; GQA/MQA; cache bytes; bad inputs."""

from __future__ import annotations

import pytest
import torch

from attnbook.models.gpt import TinyGPT
from attnbook.models.transformer import TransformerBlock


def _model(n_kv_heads: int | None = None, seed: int = 0, **kw) -> TinyGPT:
    torch.manual_seed(seed)
    options = {"vocab_size": 23, "d_model": 32, "n_heads": 4, "n_layers": 2, "max_len": 64} | kw
    return TinyGPT(n_kv_heads=n_kv_heads, **options).double().eval()


def _prompt(batch: int = 3, n: int = 7, vocab: int = 23) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, n), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("n_kv_heads", [None, 2, 1])
def test_cached_generation_equals_uncached(n_kv_heads: int | None) -> None:
    model = _model(n_kv_heads)
    prompt = _prompt()
    cached = model.generate(prompt, 20, use_cache=True)
    uncached = model.generate(prompt, 20, use_cache=False)
    assert cached.shape == (3, 27)
    assert torch.equal(cached, uncached)
    assert torch.equal(cached[:, :7], prompt)


def test_cached_logits_equal_full_logits() -> None:
    model = _model(2)
    tokens = _prompt(n=15)
    full = model(tokens)
    logits, cache = model.forward_cached(tokens[:, :6])
    pieces = [logits]
    for t in range(6, 15):
        logits, cache = model.forward_cached(tokens[:, t : t + 1], cache)
        pieces.append(logits)
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, rtol=1e-10, atol=1e-10)
    assert cache[0][0].shape == (3, 2, 15, 8)  # (batch, n_kv_heads, length, head_dim)


def test_logits_shape_and_causality() -> None:
    model = _model()
    tokens = _prompt(n=10)
    changed = tokens.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % 23
    a, b = model(tokens), model(changed)
    assert a.shape == (3, 10, 23)
    torch.testing.assert_close(a[:, :6], b[:, :6])
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_gqa_with_as_many_kv_heads_as_heads_is_mha() -> None:
    torch.manual_seed(0)
    mha = TransformerBlock(32, 4, 64, causal=True, rotary=True)
    torch.manual_seed(0)
    gqa = TransformerBlock(32, 4, 64, causal=True, rotary=True, n_kv_heads=4)
    x = torch.randn(2, 9, 32)
    torch.testing.assert_close(gqa(x), mha(x), rtol=0, atol=0)


def test_gqa_equals_mha_with_repeated_kv_weights() -> None:
    torch.manual_seed(0)
    gqa = TransformerBlock(32, 4, 64, causal=True, n_kv_heads=2).double()
    mha = TransformerBlock(32, 4, 64, causal=True).double()
    mha.load_state_dict(
        {
            name: (
                value.view(2, 8, *value.shape[1:]).repeat_interleave(2, dim=0).flatten(0, 1)
                if name.split(".")[0] in ("key", "value")
                else value
            )
            for name, value in gqa.state_dict().items()
        }
    )
    x = torch.randn(2, 9, 32, dtype=torch.float64)
    torch.testing.assert_close(gqa(x), mha(x))


def test_kv_projection_sizes_and_parameters() -> None:
    assert _model(1).blocks[0].key.out_features == 8
    assert _model(2).blocks[0].value.out_features == 16
    sizes = [sum(p.numel() for p in _model(h).parameters()) for h in (4, 2, 1)]
    assert sizes[0] > sizes[1] > sizes[2]


@pytest.mark.parametrize(("n_kv", "dtype"), [(4, torch.float32), (2, torch.float64), (1, None)])
def test_kv_cache_bytes(n_kv: int, dtype: torch.dtype | None) -> None:
    model = TinyGPT(23, 32, 4, 3, n_kv_heads=n_kv)
    if dtype is not None:
        model = model.to(dtype)
    element = 4 if dtype in (None, torch.float32) else 8
    assert model.kv_cache_bytes(5, 100) == 2 * 3 * 5 * n_kv * 100 * 8 * element
    _, cache = model.forward_cached(torch.zeros(5, 100, dtype=torch.int64))
    assert sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in cache) == (
        model.kv_cache_bytes(5, 100)
    )


BAD = [
    (lambda: TinyGPT(23, 32, 4, 2, n_kv_heads=3), ValueError, "n_heads = 4 is not divisible by n_kv_heads = 3"),
    (lambda: TinyGPT(23, 32, 4, 2, n_kv_heads=0), ValueError, "n_kv_heads"),
    (lambda: TinyGPT(23, 30, 4, 2), ValueError, "d_model = 30 is not divisible by n_heads = 4"),
    (lambda: TinyGPT(0, 32, 4, 2), ValueError, "vocab_size"),
    (lambda: _model().generate(_prompt(n=60), 5), ValueError, "60 \\+ max_new_tokens = 5 tokens exceed max_len = 64"),
    (lambda: _model()(_prompt(n=65)), ValueError, "exceed max_len = 64"),
    (lambda: _model()(torch.tensor([[1, 23]])), ValueError, "token id 23 is outside the vocabulary 0..22"),
    (lambda: _model()(torch.tensor([[-1, 2]])), ValueError, "token id -1"),
    (lambda: _model()(torch.ones(2, 3)), TypeError, "int64"),
    (lambda: _model().generate(_prompt(), -1), ValueError, "max_new_tokens must be an int >= 0, got -1"),
    (lambda: _model().generate(_prompt(), 2, use_cache=1), TypeError, "use_cache"),
    (lambda: _model().kv_cache_bytes(0, 3), ValueError, "batch_size"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "error", "fragment"), BAD)
def test_bad_inputs(call, error, fragment) -> None:
    with pytest.raises(error, match=fragment):
        call()


def test_generate_zero_tokens_and_training_mode_kept() -> None:
    model = _model().train()
    prompt = _prompt()
    assert torch.equal(model.generate(prompt, 0), prompt)
    assert model.training


def test_gpt_follows_the_input_device() -> None:
    model = _model(2)
    prompt = _prompt()
    with torch.device("meta"):
        out = model.generate(prompt, 4, use_cache=True)
        logits = model(prompt)
    assert out.device.type == logits.device.type == "cpu"
