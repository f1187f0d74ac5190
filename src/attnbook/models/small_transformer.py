"""Small sequence classifiers for the interpretability chapter.

* :class:`TinyTransformerClassifier`: a class token, learned positions and a few pre-norm
  transformer blocks; the class token's final state is classified. It returns every layer's
  attention weights, for attention maps and attention rollout.
* :class:`AttentionPoolClassifier`: the set-up studied by Jain & Wallace (2019): an encoder
  (a bidirectional GRU, ``contextual=True``, or a per-token MLP, ``contextual=False``), additive
  attention pooling over its states, and a linear classifier. The attention weights can be
  replaced at inference (``forward(tokens, attention=...)``) to test whether they matter, or
  frozen to uniform for training (``uniform=True``, Wiegreffe & Pinter's baseline).
"""

from __future__ import annotations

import torch
from torch import nn

from attnbook.attention import masked_softmax
from attnbook.checks import (
    require_divisible,
    require_float_tensor,
    require_positive_int,
    require_token_ids,
)
from attnbook.models.transformer import TransformerBlock

__all__ = ["AttentionPoolClassifier", "TinyTransformerClassifier"]


def _check_tokens(tokens: torch.Tensor, vocab_size: int, max_length: int) -> None:
    """Validate token ids (B, L) int64 in 0..vocab_size-1 with L <= max_length."""
    require_token_ids("tokens", tokens, vocab_size, max_length=max_length)


class TinyTransformerClassifier(nn.Module):
    """Class-token transformer: tokens (B, L) -> logits (B, n_classes); position 0 is the class token."""

    def __init__(
        self,
        vocab_size: int,
        n_classes: int,
        *,
        max_length: int = 16,
        d_model: int = 32,
        num_heads: int = 2,
        num_layers: int = 2,
        cls_id: int = 1,
    ) -> None:
        super().__init__()
        for name, value in (
            ("vocab_size", vocab_size),
            ("n_classes", n_classes),
            ("max_length", max_length),
            ("d_model", d_model),
            ("num_heads", num_heads),
            ("num_layers", num_layers),
        ):
            require_positive_int(name, value)
        require_divisible("d_model", d_model, "num_heads", num_heads)
        self.vocab_size, self.max_length, self.cls_id = vocab_size, max_length, cls_id
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Parameter(0.1 * torch.randn(max_length + 1, d_model))
        self.blocks = nn.ModuleList(
            TransformerBlock(d_model, num_heads, 2 * d_model) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, n_classes)

    def forward_with_attention(
        self, tokens: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits (B, n_classes) and per-layer weights [(B, heads, L+1, L+1)]; index 0 is the class token."""
        _check_tokens(tokens, self.vocab_size, self.max_length)
        cls = torch.full(
            (tokens.shape[0], 1), self.cls_id, dtype=tokens.dtype, device=tokens.device
        )
        full = torch.cat([cls, tokens], dim=1)
        x = self.embed(full) + self.pos[: full.shape[1]]
        mask = (full != 0)[:, None, None, :]
        attentions = []
        for block in self.blocks:
            x = block(x, mask)
            attentions.append(block.last_weights)
        return self.head(self.norm(x[:, 0])), attentions

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits (B, n_classes) of tokens (B, L)."""
        return self.forward_with_attention(tokens)[0]


class AttentionPoolClassifier(nn.Module):
    """Encoder + additive attention pooling + linear: tokens (B, L) -> logits (B, n_classes)."""

    def __init__(
        self,
        vocab_size: int,
        n_classes: int,
        *,
        contextual: bool = True,
        d_model: int = 32,
        max_length: int = 64,
        uniform: bool = False,
    ) -> None:
        super().__init__()
        for name, value in (
            ("vocab_size", vocab_size),
            ("n_classes", n_classes),
            ("d_model", d_model),
            ("max_length", max_length),
        ):
            require_positive_int(name, value)
        if d_model % 2:
            raise ValueError(f"d_model must be even (two GRU directions), got {d_model}")
        if not isinstance(contextual, bool):
            raise TypeError(f"contextual must be a bool, got {type(contextual).__name__}")
        if not isinstance(uniform, bool):
            raise TypeError(f"uniform must be a bool, got {type(uniform).__name__}")
        self.vocab_size, self.max_length, self.contextual = vocab_size, max_length, contextual
        self.uniform = uniform
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=0)
        if contextual:
            self.encoder: nn.Module = nn.GRU(
                d_model, d_model // 2, batch_first=True, bidirectional=True
            )
        else:
            self.encoder = nn.Sequential(nn.Linear(d_model, d_model), nn.Tanh())
        self.score_hidden = nn.Linear(d_model, d_model)
        self.score_out = nn.Linear(d_model, 1, bias=False)
        self.classifier = nn.Linear(d_model, n_classes)

    def encode(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Hidden states (B, L, d) of token embeddings (B, L, d)."""
        if self.contextual:
            return self.encoder(embeddings)[0]
        return self.encoder(embeddings)

    def attention_weights(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Additive attention weights (B, L) over states (B, L, d), zero where mask (B, L) is False.

        With ``uniform=True`` the weights are 1/(number of valid positions), whatever the states.
        """
        if self.uniform:
            return mask.float() / mask.sum(dim=1, keepdim=True).clamp_min(1)
        scores = self.score_out(torch.tanh(self.score_hidden(states))).squeeze(-1)
        return masked_softmax(scores, mask)

    def from_embeddings(
        self,
        embeddings: torch.Tensor,
        mask: torch.Tensor,
        attention: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, C) and the weights (B, L) used, from embeddings (B, L, d) and mask (B, L)."""
        states = self.encode(embeddings)
        weights = self.attention_weights(states, mask) if attention is None else attention
        context = (weights.unsqueeze(-1) * states).sum(1)
        return self.classifier(context), weights

    def forward(self, tokens: torch.Tensor, attention: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, n_classes) of tokens (B, L); `attention` (B, L) replaces the model's own weights."""
        _check_tokens(tokens, self.vocab_size, self.max_length)
        if attention is not None:
            require_float_tensor("attention", attention)
            if attention.shape != tokens.shape:
                raise ValueError(
                    f"attention must have the tokens' shape {tuple(tokens.shape)}, "
                    f"got {tuple(attention.shape)}"
                )
        return self.from_embeddings(self.embed(tokens), tokens != 0, attention)[0]

    def weights(self, tokens: torch.Tensor) -> torch.Tensor:
        """The model's own attention weights (B, L) for tokens (B, L)."""
        _check_tokens(tokens, self.vocab_size, self.max_length)
        return self.from_embeddings(self.embed(tokens), tokens != 0)[1]
