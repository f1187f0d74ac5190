"""A character-level GRU encoder–decoder, with or without additive (Bahdanau) attention.

The encoder is a bidirectional GRU over the source characters. The decoder is a GRU cell that
emits one target character per step. With attention, at every step its state scores every
encoder position with `attnbook.attention.AdditiveScore`, and the softmax-weighted sum of
encoder states (the context) feeds both the next decoder step and the output layer
(Bahdanau et al., 2015). Without attention the context is one fixed vector, the encoder's final
states, given to every step (Cho et al., 2014). Everything else is identical, so the two differ
by the attention alone. A third variant, `attention="uniform"`, is the control for the learned
alignment: the context is the plain average of the encoder states at every step (no scorer, so
it has the parameters of the fixed-vector model but reads every encoder state).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from attnbook.attention import AdditiveScore, masked_softmax
from attnbook.checks import require_positive_int
from attnbook.train import fit, token_cross_entropy

__all__ = ["Seq2Seq", "exact_match", "train_seq2seq"]


def _check_source(sources: torch.Tensor, lengths: torch.Tensor) -> None:
    """Validate sources (B, L) int64 ids and lengths (B,) int64 in [1, L]."""
    for name, tensor in (("sources", sources), ("lengths", lengths)):
        if not isinstance(tensor, torch.Tensor) or tensor.dtype != torch.int64:
            dtype = tensor.dtype if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            raise TypeError(f"{name} must be an int64 tensor, got {dtype}")
    if sources.dim() != 2 or lengths.shape != sources.shape[:1]:
        raise ValueError(
            f"sources must be (batch, L) and lengths (batch,), got {tuple(sources.shape)} "
            f"and {tuple(lengths.shape)}"
        )
    if bool((lengths < 1).any()) or bool((lengths > sources.shape[1]).any()):
        raise ValueError(f"lengths must be in [1, {sources.shape[1]}]")


class Seq2Seq(nn.Module):
    """GRU encoder–decoder: sources (B, L_src) ids -> logits (B, T, target_vocab), weights (B, T, L_src)."""

    def __init__(
        self,
        source_vocab: int,
        target_vocab: int,
        embedding_dim: int = 32,
        hidden_dim: int = 64,
        attention: bool | str = True,
    ) -> None:
        super().__init__()
        for name, value in (
            ("source_vocab", source_vocab),
            ("target_vocab", target_vocab),
            ("embedding_dim", embedding_dim),
            ("hidden_dim", hidden_dim),
        ):
            require_positive_int(name, value)
        if not isinstance(attention, bool | str):
            raise TypeError(
                f"attention must be a bool or 'uniform', got {type(attention).__name__}"
            )
        if isinstance(attention, str) and attention != "uniform":
            raise ValueError(f"attention must be True, False or 'uniform', got {attention!r}")
        self.use_attention = attention is not False
        self.uniform_attention = attention == "uniform"
        self.target_vocab = target_vocab
        self.start_id = target_vocab  # an extra input id that starts every decoded sequence
        self.source_embedding = nn.Embedding(source_vocab, embedding_dim, padding_idx=0)
        self.encoder = nn.GRU(embedding_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden_dim, hidden_dim)
        self.target_embedding = nn.Embedding(target_vocab + 1, embedding_dim)
        self.decoder = nn.GRUCell(embedding_dim + 2 * hidden_dim, hidden_dim)
        self.score = (
            AdditiveScore(hidden_dim, 2 * hidden_dim, hidden_dim) if attention is True else None
        )
        self.output = nn.Linear(hidden_dim + 2 * hidden_dim + embedding_dim, target_vocab)

    def encode(
        self, sources: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder states (B, L_src, 2·hidden) (zero at padding) and a summary (B, 2·hidden)."""
        _check_source(sources, lengths)
        embedded = self.source_embedding(sources)
        packed = nn.utils.rnn.pack_padded_sequence(
            embedded, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        states, final = self.encoder(packed)
        states, _ = nn.utils.rnn.pad_packed_sequence(
            states, batch_first=True, total_length=sources.shape[1]
        )
        summary = torch.cat([final[0], final[1]], dim=-1)  # forward and backward final states
        return states, summary

    def _step(
        self,
        previous: torch.Tensor,
        hidden: torch.Tensor,
        states: torch.Tensor,
        summary: torch.Tensor,
        mask: torch.Tensor,
        projected_keys: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One decoder step: logits (B, V), new hidden (B, H), weights (B, L_src)."""
        if self.score is not None and projected_keys is not None:
            # AdditiveScore's vᵀ tanh(W_q q + W_k k), with W_k k computed once per sequence
            features = torch.tanh(self.score.query_proj(hidden)[:, None, :] + projected_keys)
            scores = self.score.score_vector(features)[..., 0]  # (B, L_src)
            weights = masked_softmax(scores, mask)
            context = (weights[:, :, None] * states).sum(dim=1)
        elif self.uniform_attention:  # the average of the encoder states at every step
            weights = mask.to(states.dtype) / mask.sum(dim=1, keepdim=True).to(states.dtype)
            context = (weights[:, :, None] * states).sum(dim=1)
        else:
            weights = torch.zeros(mask.shape, dtype=states.dtype, device=states.device)
            context = summary
        embedded = self.target_embedding(previous)
        hidden = self.decoder(torch.cat([embedded, context], dim=-1), hidden)
        logits = self.output(torch.cat([hidden, context, embedded], dim=-1))
        return logits, hidden, weights

    def forward(
        self, sources: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced logits (B, T, V) and attention weights (B, T, L_src) for targets (B, T)."""
        if not isinstance(targets, torch.Tensor) or targets.dtype != torch.int64:
            raise TypeError("targets must be an int64 tensor (batch, T) of target ids")
        if targets.dim() != 2 or targets.shape[0] != sources.shape[0]:
            raise ValueError(
                f"targets must be (batch={sources.shape[0]}, T), got {tuple(targets.shape)}"
            )
        states, summary = self.encode(sources, lengths)
        mask = sources != 0
        hidden = torch.tanh(self.bridge(summary))
        keys = self.score.key_proj(states) if self.score is not None else None
        previous = torch.full(
            (len(sources),), self.start_id, dtype=torch.int64, device=sources.device
        )
        all_logits, all_weights = [], []
        for t in range(targets.shape[1]):
            logits, hidden, weights = self._step(previous, hidden, states, summary, mask, keys)
            all_logits.append(logits)
            all_weights.append(weights)
            previous = targets[:, t]
        return torch.stack(all_logits, dim=1), torch.stack(all_weights, dim=1)

    @torch.no_grad()
    def greedy_decode(
        self, sources: torch.Tensor, lengths: torch.Tensor, steps: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Greedy output ids (B, steps) and attention weights (B, steps, L_src), no teacher."""
        require_positive_int("steps", steps)
        was_training = self.training
        self.eval()
        states, summary = self.encode(sources, lengths)
        mask = sources != 0
        hidden = torch.tanh(self.bridge(summary))
        keys = self.score.key_proj(states) if self.score is not None else None
        previous = torch.full(
            (len(sources),), self.start_id, dtype=torch.int64, device=sources.device
        )
        outputs, all_weights = [], []
        for _ in range(steps):
            logits, hidden, weights = self._step(previous, hidden, states, summary, mask, keys)
            previous = logits.argmax(dim=-1)
            outputs.append(previous)
            all_weights.append(weights)
        self.train(was_training)
        return torch.stack(outputs, dim=1), torch.stack(all_weights, dim=1)


def exact_match(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of rows of predictions (N, T) that equal targets (N, T) in every position."""
    if not isinstance(predictions, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise TypeError("predictions and targets must be tensors")
    if predictions.shape != targets.shape or predictions.dim() != 2 or len(targets) == 0:
        raise ValueError(
            f"predictions and targets must both be non-empty (N, T), got "
            f"{tuple(predictions.shape)} and {tuple(targets.shape)}"
        )
    return (predictions == targets).all(dim=1).double().mean().item()


def train_seq2seq(
    model: Seq2Seq,
    sources: torch.Tensor,
    lengths: torch.Tensor,
    targets: torch.Tensor,
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 3e-3,
    clip: float = 1.0,
    seed: int = 0,
    progress: bool = True,
    description: str = "seq2seq",
    on_epoch_end: Callable[[int], None] | None = None,
) -> list[float]:
    """Teacher-forced training with Adam on sources (N, L), lengths (N,), targets (N, T) ids.

    Targets use ids 1.. (0 = padding is ignored by the loss). Returns the mean loss per epoch.
    `on_epoch_end(epoch)` (epoch from 1) is called after every epoch, e.g. to score a
    validation split; one optimizer runs through all epochs. This is attnbook.train.fit with
    the model's three inputs, gradient clipping and a loss that skips padding.
    """
    if not isinstance(model, Seq2Seq):
        raise TypeError(f"model must be a Seq2Seq, got {type(model).__name__}")
    _check_source(sources, lengths)
    if not isinstance(targets, torch.Tensor) or targets.shape[:1] != sources.shape[:1]:
        raise ValueError("targets must be a tensor (N, T) with the N of sources")
    history = fit(
        model,
        ((sources, lengths, targets), targets),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        loss_fn=_teacher_forced_loss,
        seed=seed,
        progress=progress,
        description=description,
        train_metrics=False,
        clip=clip,
        on_epoch_end=on_epoch_end,
    )
    return history.series("batch_loss")


def _teacher_forced_loss(
    output: tuple[torch.Tensor, torch.Tensor], targets: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy of Seq2Seq's logits (B, T, V) (output[0]) on targets (B, T), 0 = padding."""
    return token_cross_entropy(output[0], targets, ignore_index=0)
