"""Every tensor the package makes follows its input's device (a CPU-only proof with a meta default).

Under ``torch.device("meta")`` as the default device, a tensor made without ``device=`` lands on
``meta``; mixing it with the CPU inputs raises. So each public function and module below, run on
CPU inputs (and modules built on the CPU, before the default changes), passes only if nothing
inside it relies on the default device. The NaN scan of ``attention.check_qkv`` is data-dependent
and runs on the CPU inputs, as it must.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch

from attnbook import efficient, explain, kernel_regression, measures
from attnbook.attention import (
    MultiHeadAttention,
    causal_mask,
    masked_softmax,
    scaled_dot_product_attention,
)
from attnbook.models import induction_baselines
from attnbook.models.transformer import TokenTransformer, TransformerBlock
from attnbook.positions import alibi_bias, rotary


@pytest.fixture
def meta_default() -> Iterator[None]:
    """The default device is meta for the test's body; the CPU again afterwards."""
    with torch.device("meta"):
        yield


def _qkv(n: int = 20, d: int = 8, seed: int = 0) -> list[torch.Tensor]:
    """CPU float64 q, k, v of shape (2, 3, n, d), built before the default device changes."""
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.randn(2, 3, n, d, generator=gen, dtype=torch.float64, device="cpu") for _ in range(3)
    ]


def test_the_probe_catches_a_tensor_made_without_device(meta_default: None) -> None:
    x = torch.ones(3, device="cpu")
    stray = torch.zeros(3)
    assert stray.device.type == "meta"
    with pytest.raises((RuntimeError, NotImplementedError)):
        _ = (x + stray).sum().item()


FUNCTIONS: dict[str, Callable[[list[torch.Tensor]], torch.Tensor]] = {
    "scaled_dot_product_attention": lambda t: scaled_dot_product_attention(*t)[0],
    "sdpa with mask": lambda t: scaled_dot_product_attention(
        *t, causal_mask(20, device=t[0].device)
    )[0],
    "masked_softmax": lambda t: masked_softmax(t[0], t[1] > 0),
    "chunked_attention": lambda t: efficient.chunked_attention(*t, block_q=8, block_k=8),
    "chunked_attention causal": lambda t: efficient.chunked_attention(
        *t, causal=True, block_q=8, block_k=8
    ),
    "chunked_attention mask": lambda t: efficient.chunked_attention(
        *t, t[0][..., :1] > t[1][..., :1].transpose(-2, -1), block_q=8, block_k=8
    ),
    "windowed_attention": lambda t: efficient.windowed_attention(*t, 5, block=8),
    "linear_attention": lambda t: efficient.linear_attention(*t),
    "linear_attention causal": lambda t: efficient.linear_attention(*t, causal=True, chunk=8),
    "online_softmax_merge": lambda t: efficient.online_softmax_merge(
        t[0][..., 0], t[1][..., 0].exp(), t[2][..., 0], t[0][..., 1].exp()
    )[1],
    "rotary": lambda t: rotary(t[0]),
    "rotary positions": lambda t: rotary(t[0], torch.arange(20, device=t[0].device) + 3),
    "alibi_bias": lambda t: (
        alibi_bias(3, 20, 20, device=t[0].device, dtype=t[0].dtype)
        + t[0][0] @ t[1][0].transpose(-2, -1)
    ),
    "attention_rollout": lambda t: explain.attention_rollout(
        [(t[0] @ t[1].transpose(-2, -1)).softmax(-1)] * 2
    ),
    "kendall_tau": lambda t: explain.kendall_tau(t[0][0, 0], t[1][0, 0]),
    "top_k_mask": lambda t: explain.top_k_mask(t[0][0, 0], 3).double(),
    "permute_attention": lambda t: explain.permute_attention(
        t[0][0, 0].softmax(-1), t[0][0, 0] > -10
    ),
    "nadaraya_watson leave_one_out": lambda t: kernel_regression.nadaraya_watson(
        t[0][0, 0, :, 0], t[0][0, 0, :, 0], t[1][0, 0, :, 0], 0.5, leave_one_out=True
    )[0],
    "gaussian_as_dot_product": lambda t: kernel_regression.gaussian_as_dot_product(
        t[0][0, 0], t[1][0, 0]
    )[0],
    "head_importance": lambda t: measures.head_importance(
        lambda gates: (gates.double() * t[0][0, :, 0, 0]).sum() ** 2, 3, device=t[0].device
    ),
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_functions_follow_the_input_device(name: str, meta_default: None) -> None:
    inputs = _qkv()
    out = FUNCTIONS[name](inputs)
    assert out.device.type == "cpu"
    assert bool(torch.isfinite(out).all())


def test_chunked_backward_follows_the_input_device(meta_default: None) -> None:
    q, k, v = (x.requires_grad_() for x in _qkv())
    efficient.chunked_attention(q, k, v, causal=True, block_q=8, block_k=8).sum().backward()
    assert all(x.grad is not None and x.grad.device.type == "cpu" for x in (q, k, v))


def test_nan_scan_still_runs_under_a_meta_default(meta_default: None) -> None:
    q, k, v = _qkv()
    q[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="q"):
        efficient.chunked_attention(q, k, v)


def test_induction_baselines_follow_the_input_device(meta_default: None) -> None:
    tokens = torch.randint(0, 6, (2, 12), generator=torch.Generator().manual_seed(0), device="cpu")
    for fn in (
        induction_baselines.longest_context_oracle,
        induction_baselines.one_token_induction,
    ):
        assert fn(tokens).device.type == "cpu"
    candidates = torch.ones(6, dtype=torch.bool, device="cpu")
    assert induction_baselines.most_frequent_in_context(tokens, candidates).device.type == "cpu"


def _modules() -> dict[str, tuple[torch.nn.Module, Callable[[torch.nn.Module], torch.Tensor]]]:
    """Modules built on the CPU with the call that runs each on CPU inputs."""
    x = torch.randn(2, 10, 16, generator=torch.Generator().manual_seed(1))
    tokens = torch.randint(0, 7, (2, 10), generator=torch.Generator().manual_seed(2))
    past = (torch.randn(2, 4, 3, 4), torch.randn(2, 4, 3, 4))
    return {
        "MultiHeadAttention": (MultiHeadAttention(16, 4), lambda m: m(x, mask=x[..., :1] > 0)[0]),
        "TransformerBlock causal rotary cached": (
            TransformerBlock(16, 4, 32, causal=True, rotary=True),
            lambda m: m(x, past_kv=past),
        ),
        "CausalSelfAttention linear": (
            efficient.CausalSelfAttention(16, 4, mixer="linear"),
            lambda m: m(x),
        ),
        "CausalAttentionLM": (efficient.CausalAttentionLM(7, 10, d_model=16), lambda m: m(tokens)),
        **{
            f"TokenTransformer {kind}": (
                TokenTransformer(7, 3, d_model=16, n_heads=4, positions=kind, causal=True),
                lambda m: m(tokens),
            )
            for kind in ("learned", "sinusoidal", "rope", "alibi")
        },
    }


@pytest.mark.parametrize("name", list(_modules()))
def test_modules_follow_the_input_device(name: str) -> None:
    module, call = _modules()[name]
    with torch.device("meta"):
        out = call(module)
        out.float().sum().backward()
    assert out.device.type == "cpu"
    assert bool(torch.isfinite(out).all())


@pytest.mark.parametrize("weighting", ["equal", "uncertainty", "dwa", "gradnorm", "pcgrad"])
def test_multitask_training_follows_the_input_device(weighting: str) -> None:
    from attnbook.models.multitask import HardSharingNet
    from attnbook.mtl import Task, train_multitask

    gen = torch.Generator().manual_seed(0)
    net = HardSharingNet(
        [("classification", 10), ("regression", (0.5, 0.3))], channels=(4, 8), pool=2, hidden=8
    )
    images = torch.rand(32, 1, 12, 12, generator=gen)
    targets = [torch.randint(0, 10, (32,), generator=gen), torch.rand(32, generator=gen)]
    tasks = [Task("a", "classification"), Task("b", "regression")]
    with torch.device("meta"):
        history = train_multitask(
            net,
            images,
            targets,
            tasks,
            weighting=weighting,
            epochs=3,
            batch_size=16,
            progress=False,
        )
    assert len(history.records) == 3
    assert all(p.device.type == "cpu" for p in net.parameters())
