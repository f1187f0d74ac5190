"""attnbook.train: count_parameters, fit (records, tuple inputs, clipping, epoch hook), train_steps."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from attnbook.data.induction import make_lag_copy_batch
from attnbook.experiments.transformer import previous_token_batch
from attnbook.models.attention_only import AttentionOnlyTransformer
from attnbook.models.transformer import TokenTransformer
from attnbook.train import count_parameters, fit, masked_accuracy, seed_everything, train_steps


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


def _blobs(n: int = 96) -> tuple[torch.Tensor, torch.Tensor]:
    """Two Gaussian blobs in 2-d: inputs (n, 2), labels (n,)."""
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % 2
    inputs = torch.randn(n, 2, generator=generator) + 3.0 * labels[:, None].float()
    return inputs, labels


def test_skipping_train_metrics_changes_nothing_about_training() -> None:
    data = _blobs()
    runs = []
    for train_metrics in (True, False):
        torch.manual_seed(0)
        model = nn.Linear(2, 2)
        history = fit(
            model,
            data,
            epochs=20,
            batch_size=32,
            lr=0.3,
            progress=False,
            validation=data,
            train_metrics=train_metrics,
        )
        runs.append((model, history))
    (with_model, with_history), (without_model, without_history) = runs
    assert torch.equal(with_model.weight, without_model.weight)
    assert with_history.series("batch_loss") == without_history.series("batch_loss")
    assert with_history.series("val_loss") == without_history.series("val_loss")
    assert "train_accuracy" in with_history.last and "train_accuracy" not in without_history.last
    assert (
        with_history.last["train_accuracy"] > 0.9
    )  # the blobs are 3 units apart in each coordinate


def test_batch_loss_is_the_mean_loss_of_the_epochs_minibatches() -> None:
    inputs, labels = _blobs()
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    before = nn.functional.cross_entropy(model(inputs), labels).item()
    # one minibatch holding everything: its loss is taken before the only step
    history = fit(model, (inputs, labels), epochs=1, batch_size=len(inputs), progress=False)
    assert history.last["batch_loss"] == pytest.approx(before, rel=1e-6)


def test_train_metrics_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="train_metrics must be a bool"):
        fit(nn.Linear(2, 2), _blobs(), epochs=1, progress=False, train_metrics="no")


class _Shift(nn.Module):
    """A model of two arguments: logits (N, 2) = linear(x + offset), x and offset (N, 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        return self.linear(x + offset)


def test_a_tuple_of_inputs_is_passed_as_the_models_arguments() -> None:
    """fit((x, offset), y) trains _Shift exactly as fit(x + offset, y) trains its linear layer."""
    inputs, labels = _blobs()
    offset = torch.full_like(inputs, 0.5)
    torch.manual_seed(0)
    shifted = _Shift()
    torch.manual_seed(0)
    plain = nn.Linear(2, 2)
    common = {"epochs": 3, "batch_size": 32, "lr": 0.1, "progress": False, "train_metrics": False}
    tuple_history = fit(shifted, ((inputs, offset), labels), **common)
    plain_history = fit(plain, (inputs + offset, labels), **common)
    assert torch.equal(shifted.linear.weight, plain.weight)
    assert tuple_history.series("batch_loss") == plain_history.series("batch_loss")
    with pytest.raises(ValueError, match="train_metrics=False"):
        fit(_Shift(), ((inputs, offset), labels), epochs=1, progress=False)
    with pytest.raises(ValueError, match="equally long"):
        fit(_Shift(), ((inputs, offset[:5]), labels), epochs=1, progress=False, train_metrics=False)


def test_clip_caps_every_steps_gradient_norm() -> None:
    """With clip=c the optimiser sees gradients of norm <= c; without, these inputs give more."""
    inputs, labels = _blobs()
    norms: list[float] = []

    def record(optimizer: torch.optim.Optimizer, *_: object) -> None:
        grads = [p.grad.flatten() for group in optimizer.param_groups for p in group["params"]]
        norms.append(float(torch.cat(grads).norm()))

    handle = register_optimizer_step_pre_hook(record)
    try:
        for clip in (None, 0.25):
            torch.manual_seed(0)
            fit(
                nn.Linear(2, 2),
                (inputs * 100, labels),
                epochs=2,
                batch_size=16,
                lr=0.1,
                progress=False,
                train_metrics=False,
                clip=clip,
            )
    finally:
        handle.remove()
    unclipped, clipped = norms[: len(norms) // 2], norms[len(norms) // 2 :]
    assert max(unclipped) > 1.0 and max(clipped) <= 0.25 + 1e-5
    with pytest.raises(ValueError, match="clip"):
        fit(nn.Linear(2, 2), _blobs(), epochs=1, progress=False, clip=0.0)


def test_on_epoch_end_runs_after_each_epoch_with_its_number() -> None:
    seen: list[int] = []
    history = fit(nn.Linear(2, 2), _blobs(), epochs=3, progress=False, on_epoch_end=seen.append)
    assert seen == [1, 2, 3] and len(history.records) == 3
    with pytest.raises(TypeError, match="on_epoch_end"):
        fit(nn.Linear(2, 2), _blobs(), epochs=1, progress=False, on_epoch_end="print")


def test_train_steps_learns_lag_one_copy() -> None:
    seed_everything(0)
    model = AttentionOnlyTransformer(5, 8, d_model=16, num_layers=1, window=2)
    losses = train_steps(
        model,
        lambda g: make_lag_copy_batch(32, 8, 5, 1, generator=g),
        steps=150,
        lr=1e-2,
        progress=False,
    )
    assert losses[-1] < 0.5 * losses[0]
    tokens, targets = make_lag_copy_batch(256, 8, 5, 1, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        assert masked_accuracy(model(tokens), targets) > 0.9


def test_train_steps_learns_and_warms_up():
    torch.manual_seed(0)
    model = TokenTransformer(6, 6, d_model=16, n_heads=2, n_layers=1, max_len=8, causal=True)
    losses = train_steps(
        model,
        lambda g: previous_token_batch(32, 8, 6, g),
        steps=60,
        lr=1e-2,
        warmup_steps=10,
        record_every=10,
        progress=False,
    )
    assert len(losses) == 6 and losses[-1] < losses[0]
    with pytest.raises(ValueError):
        train_steps(
            model, lambda g: previous_token_batch(2, 4, 6, g), steps=1, lr=1e-3, warmup_steps=-1
        )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"steps": 0, "lr": 1.0}, ValueError, "steps"),
        ({"steps": 1, "lr": 0.0}, ValueError, "lr"),
        ({"steps": 1, "lr": 1.0, "record_every": 0}, ValueError, "record_every"),
    ],
)
def test_train_steps_names_bad_settings(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        train_steps(nn.Linear(1, 1), lambda g: (torch.zeros(1, 1), torch.zeros(1)), **kwargs)


def test_train_steps_needs_a_callable_batch_maker() -> None:
    with pytest.raises(TypeError, match="callable"):
        train_steps(nn.Linear(1, 1), None, steps=1, lr=1.0)


def test_masked_accuracy_ignores_unscored() -> None:
    logits = torch.zeros(1, 3, 4)
    logits[0, 0, 1] = logits[0, 1, 2] = logits[0, 2, 3] = 1.0
    targets = torch.tensor([[1, -100, 0]])
    assert masked_accuracy(logits, targets) == 0.5


def test_masked_accuracy_names_bad_shapes() -> None:
    with pytest.raises(ValueError, match="logits"):
        masked_accuracy(torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="no scored position"):
        masked_accuracy(torch.zeros(2, 3, 4), torch.full((2, 3), -100))
