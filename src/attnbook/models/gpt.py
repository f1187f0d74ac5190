"""TinyGPT: a decoder-only language model from chapter 5b's TransformerBlock, with a KV cache.

The model embeds token ids, runs ``n_layers`` causal pre-LN :class:`TransformerBlock` s whose
queries and keys are rotated by RoPE (:func:`attnbook.positions.rotary`; no position table, so a
cached key keeps the rotation of its own position), and projects to next-token logits.

Generation is greedy. With ``use_cache=True`` the prompt is run once (the "prefill") and each new
token then runs alone, attending to the keys and values the blocks cached: O(n) work per token.
With ``use_cache=False`` every step recomputes the whole prefix: O(n²) per token. Both compute the
same function, so (up to floating-point ties in the arg-max) they return the same tokens.

``n_kv_heads`` < ``n_heads`` is grouped-query attention (GQA, Ainslie et al. 2023); 1 is
multi-query attention (MQA, Shazeer 2019). The cache then holds ``n_kv_heads`` heads instead of
``n_heads``: :meth:`TinyGPT.kv_cache_bytes` is 2 · n_layers · batch · n_kv_heads · length ·
head_dim · element size.
"""

from __future__ import annotations

import torch
from torch import nn

from attnbook.checks import require_positive_int
from attnbook.models.transformer import KeyValue, TransformerBlock

__all__ = ["KVCache", "TinyGPT"]

KVCache = list[KeyValue]


def _require_count(name: str, value: object) -> int:
    """value if it is an int >= 0 (bool refused), else ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    return value


class TinyGPT(nn.Module):
    """Token ids (batch, n) -> next-token logits (batch, n, vocab_size); causal, RoPE, KV cache."""

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        n_heads: int,
        n_layers: int,
        *,
        n_kv_heads: int | None = None,
        max_len: int = 1024,
        d_ff: int | None = None,
    ) -> None:
        super().__init__()
        for name, value in (
            ("vocab_size", vocab_size),
            ("d_model", d_model),
            ("n_heads", n_heads),
            ("n_layers", n_layers),
            ("max_len", max_len),
        ):
            require_positive_int(name, value)
        n_kv_heads = (
            n_heads if n_kv_heads is None else require_positive_int("n_kv_heads", n_kv_heads)
        )
        d_ff = 4 * d_model if d_ff is None else require_positive_int("d_ff", d_ff)
        self.vocab_size, self.max_len = vocab_size, max_len
        self.n_heads, self.n_kv_heads, self.n_layers = n_heads, n_kv_heads, n_layers
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.blocks = nn.ModuleList(
            TransformerBlock(
                d_model, n_heads, d_ff, causal=True, rotary=True, n_kv_heads=n_kv_heads
            )
            for _ in range(n_layers)
        )
        self.head_dim = self.blocks[0].d_head
        self.final_norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)

    def _check_ids(self, idx: torch.Tensor, n_past: int = 0) -> None:
        """Raise unless idx is int64 (batch, n) with ids in the vocabulary and n_past + n <= max_len."""
        if not isinstance(idx, torch.Tensor) or idx.dtype != torch.int64 or idx.dim() != 2:
            got = f"{idx.dtype} {tuple(idx.shape)}" if isinstance(idx, torch.Tensor) else type(idx)
            raise TypeError(f"idx must be an int64 tensor (batch, n) of token ids, got {got}")
        if idx.shape[1] == 0:
            raise ValueError(f"idx must hold at least one token, got shape {tuple(idx.shape)}")
        bad = (idx < 0) | (idx >= self.vocab_size)
        if bool(bad.any()):
            raise ValueError(
                f"token id {int(idx[bad][0])} is outside the vocabulary 0..{self.vocab_size - 1}"
            )
        if n_past + idx.shape[1] > self.max_len:
            raise ValueError(
                f"{n_past} cached + {idx.shape[1]} new positions = {n_past + idx.shape[1]} "
                f"exceed max_len = {self.max_len}"
            )

    def forward_cached(
        self, idx: torch.Tensor, cache: KVCache | None = None
    ) -> tuple[torch.Tensor, KVCache]:
        """Logits (batch, n, vocab) of idx (batch, n) after `cache`; returns the extended cache.

        cache: one (keys, values) per layer, each (batch, n_kv_heads, n_past, head_dim), or None.
        """
        n_past = 0 if not cache else cache[0][0].shape[-2]
        self._check_ids(idx, n_past)
        if cache is not None and len(cache) not in (0, self.n_layers):
            raise ValueError(f"cache must hold {self.n_layers} layers, got {len(cache)}")
        x = self.embedding(idx)
        new_cache: KVCache = []
        for i, block in enumerate(self.blocks):
            x = block(x, past_kv=cache[i] if cache else None)
            assert block.last_kv is not None
            new_cache.append(block.last_kv)
        return self.head(self.final_norm(x)), new_cache

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Next-token logits (batch, n, vocab_size) of token ids idx (batch, n)."""
        return self.forward_cached(idx)[0]

    @torch.no_grad()
    def generate(
        self, idx: torch.Tensor, max_new_tokens: int, *, use_cache: bool = True
    ) -> torch.Tensor:
        """Greedy continuation: idx (batch, n) -> (batch, n + max_new_tokens) token ids."""
        max_new_tokens = _require_count("max_new_tokens", max_new_tokens)
        if not isinstance(use_cache, bool):
            raise TypeError(f"use_cache must be a bool, got {type(use_cache).__name__}")
        self._check_ids(idx)
        if idx.shape[1] + max_new_tokens > self.max_len:
            raise ValueError(
                f"prompt of {idx.shape[1]} + max_new_tokens = {max_new_tokens} tokens exceed "
                f"max_len = {self.max_len}"
            )
        was_training = self.training
        self.eval()
        tokens = idx
        cache: KVCache | None = None
        step_input = idx
        for _ in range(max_new_tokens):
            if use_cache:
                logits, cache = self.forward_cached(step_input, cache)
            else:
                logits = self.forward(tokens)
            step_input = logits[:, -1].argmax(dim=-1, keepdim=True)
            tokens = torch.cat([tokens, step_input], dim=1)
        self.train(was_training)
        return tokens

    def kv_cache_bytes(self, batch_size: int, length: int) -> int:
        """Bytes of the K and V caches: 2 · n_layers · batch · n_kv_heads · length · head_dim · elem."""
        batch_size = require_positive_int("batch_size", batch_size)
        length = require_positive_int("length", length)
        element = self.embedding.weight.element_size()
        return 2 * self.n_layers * batch_size * self.n_kv_heads * length * self.head_dim * element
