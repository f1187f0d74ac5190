"""The Transformer block, assembled from attnbook's own attention, and a small token model around it.

:class:`TransformerBlock` is one encoder layer, the same function as
``torch.nn.TransformerEncoderLayer(batch_first=True)`` (:meth:`TransformerBlock.from_torch` copies
one): multi-head self-attention through :func:`attnbook.attention.scaled_dot_product_attention`,
a two-layer feed-forward network, a residual connection around each, and LayerNorm before
(pre-LN, ``norm_first=True``) or after (post-LN) each sublayer. For the experiments of chapter 5b
each piece can be switched off, and for later chapters it takes an additive score bias (ALiBi),
rotary positions and a cache of earlier keys and values.

:class:`TokenTransformer` embeds tokens, adds one of five kinds of positional information
(``POSITIONS``), runs a stack of blocks and predicts a class at every position.
"""

from __future__ import annotations

import torch
from torch import nn

from attnbook.attention import _attention, check_bias, check_mask, score_scale
from attnbook.checks import (
    require_divisible,
    require_finite,
    require_float_tensor,
    require_positive_int,
    require_token_ids,
)
from attnbook.positions import alibi_bias, rotary, sinusoidal_positions

__all__ = ["ACTIVATIONS", "POSITIONS", "TokenTransformer", "TransformerBlock"]

ACTIVATIONS = ("gelu", "relu")
POSITIONS = ("none", "learned", "sinusoidal", "rope", "alibi")

KeyValue = tuple[torch.Tensor, torch.Tensor]


def _require_bool(name: str, value: object) -> bool:
    """Return value if it is a bool, else raise TypeError naming it."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def _require_rate(name: str, rate: object) -> None:
    """Raise TypeError/ValueError naming it unless rate is a number in [0, 1) (a dropout rate)."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(rate).__name__}")
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {rate}")


class TransformerBlock(nn.Module):
    """One Transformer encoder block: x (batch, n, d_model) -> (batch, n, d_model).

    Pre-LN (``norm_first=True``): x + Attn(LN(x)), then + FFN(LN(·)). Post-LN: LN(x + Attn(x)),
    then LN(· + FFN(·)). ``causal=True`` lets position i attend to positions <= i only.
    ``attention``, ``feed_forward``, ``residual`` and ``layer_norm`` switch a piece off (ablation).
    ``dropout`` acts on the feed-forward's hidden units and on each sublayer's output, and (unless
    ``attention_dropout`` says otherwise) on the attention weights, as torch's layer does.
    ``n_kv_heads`` < ``n_heads`` (a divisor) is grouped-query attention: each key/value head
    serves ``n_heads / n_kv_heads`` query heads (1 = multi-query); the default is ``n_heads``.
    After each call, ``last_weights`` holds the attention weights (batch, n_heads, n, n_k),
    ``last_kv`` the keys and values (batch, n_kv_heads, n_k, d_head) a cache would keep, and
    ``last_writes`` what each sublayer added to the residual stream (pre-LN).
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        *,
        norm_first: bool = True,
        activation: str = "gelu",
        dropout: float = 0.0,
        causal: bool = False,
        layer_norm_eps: float = 1e-5,
        rotary: bool = False,
        attention: bool = True,
        feed_forward: bool = True,
        residual: bool = True,
        layer_norm: bool = True,
        n_kv_heads: int | None = None,
        attention_dropout: float | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("d_model", d_model), ("n_heads", n_heads), ("d_ff", d_ff)):
            require_positive_int(name, value)
        require_divisible("d_model", d_model, "n_heads", n_heads)
        n_kv_heads = (
            n_heads if n_kv_heads is None else require_positive_int("n_kv_heads", n_kv_heads)
        )
        if n_heads % n_kv_heads != 0:
            raise ValueError(
                f"n_heads = {n_heads} is not divisible by n_kv_heads = {n_kv_heads}: grouped-query "
                "attention shares each key/value head among the same number of query heads"
            )
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        _require_rate("dropout", dropout)
        attention_dropout = dropout if attention_dropout is None else attention_dropout
        _require_rate("attention_dropout", attention_dropout)
        flags = {
            "norm_first": norm_first,
            "causal": causal,
            "rotary": rotary,
            "attention": attention,
            "feed_forward": feed_forward,
            "residual": residual,
            "layer_norm": layer_norm,
        }
        for name, value in flags.items():
            _require_bool(name, value)
        if rotary and (d_model // n_heads) % 2:
            raise ValueError(
                f"rotary positions need an even head width, got d_model / n_heads = "
                f"{d_model} / {n_heads} = {d_model // n_heads}"
            )
        self.d_model, self.n_heads, self.d_ff = d_model, n_heads, d_ff
        self.d_head = d_model // n_heads
        self.n_kv_heads = n_kv_heads
        self.norm_first, self.causal, self.rotary = norm_first, causal, rotary
        self.activation = activation
        self.use_attention, self.use_feed_forward = attention, feed_forward
        self.use_residual, self.use_layer_norm = residual, layer_norm
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, n_kv_heads * self.d_head)
        self.value = nn.Linear(d_model, n_kv_heads * self.d_head)
        self.out_proj = nn.Linear(d_model, d_model)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        norm = (lambda: nn.LayerNorm(d_model, eps=layer_norm_eps)) if layer_norm else nn.Identity
        self.norm1, self.norm2 = norm(), norm()
        self.attention_dropout = nn.Dropout(attention_dropout)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.last_weights: torch.Tensor | None = None
        self.last_kv: KeyValue | None = None
        self.last_writes: dict[str, torch.Tensor] = {}

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """(B, n, heads · d_head) -> (B, heads, n, d_head), heads = n_heads or n_kv_heads."""
        batch, length, width = x.shape
        return x.view(batch, length, width // self.d_head, self.d_head).transpose(1, 2)

    def _mask(
        self, mask: torch.Tensor | None, batch: int, n: int, n_k: int, device: torch.device
    ) -> torch.Tensor | None:
        """The user's mask (n, n_k), (B, n, n_k) or (B, 1|heads, n, n_k), and-ed with the causal one."""
        if mask is not None:
            if isinstance(mask, torch.Tensor) and mask.dim() == 3:
                mask = mask.unsqueeze(1)
            check_mask(mask, torch.Size((batch, self.n_heads, n, n_k)))
        if self.causal:
            queries = torch.arange(n, device=device) + (n_k - n)
            allowed = torch.arange(n_k, device=device)[None, :] <= queries[:, None]
            mask = allowed if mask is None else mask & allowed
        return mask

    def queries_and_keys(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-head queries (B, n_heads, n, d_head) and keys (B, n_kv_heads, n, d_head) of x.

        x (B, n, d_model) is what the attention sublayer sees (after norm1 in a pre-LN block);
        rotary blocks rotate both by positions 0 .. n-1, as a call without a cache does.
        """
        q, k = self._split(self.query(x)), self._split(self.key(x))
        if self.rotary:
            positions = torch.arange(x.shape[1], device=x.device)
            q, k = rotary(q, positions), rotary(k, positions)
        return q, k

    def attend(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        bias: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
        past_kv: KeyValue | None = None,
    ) -> torch.Tensor:
        """Multi-head self-attention of x (B, n, d_model) -> (B, n, d_model), before the residual."""
        q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        n_past = 0 if past_kv is None else past_kv[0].shape[-2]
        if self.rotary:
            if positions is None:
                positions = torch.arange(n_past, n_past + x.shape[1], device=x.device)
            q, k = rotary(q, positions), rotary(k, positions)
        if past_kv is not None:
            past_k, past_v = past_kv
            if (
                past_k.shape != past_v.shape
                or past_k.dim() != 4
                or past_k.shape[:2] != k.shape[:2]
                or past_k.shape[-1] != self.d_head
            ):
                raise ValueError(
                    f"past_kv must be two tensors (B={k.shape[0]}, n_kv_heads={self.n_kv_heads}, "
                    f"n_past, d_head={self.d_head}), got {tuple(past_k.shape)} and "
                    f"{tuple(past_v.shape)}"
                )
            k, v = torch.cat([past_k, k], dim=-2), torch.cat([past_v, v], dim=-2)
        self.last_kv = (k.detach(), v.detach())
        mask = self._mask(mask, x.shape[0], x.shape[1], k.shape[-2], x.device)
        group = self.n_heads // self.n_kv_heads
        if (
            group > 1
        ):  # grouped-query attention: query heads h·group .. h·group+group-1 share kv head h
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        if bias is not None:
            check_bias(bias, torch.Size((x.shape[0], self.n_heads, x.shape[1], k.shape[-2])))
        # q, k, v are this block's own projections of x, which forward checked (shape, finite)
        out, weights = _attention(q, k, v, mask, score_scale(self.d_head), bias)
        if self.training and self.attention_dropout.p > 0:
            out = self.attention_dropout(weights) @ v
        self.last_weights = weights.detach()
        merged = out.transpose(1, 2).reshape(x.shape[0], x.shape[1], self.d_model)
        return self.out_proj(merged)

    def feed(self, x: torch.Tensor) -> torch.Tensor:
        """The position-wise feed-forward network: linear2(act(linear1(x))), x (B, n, d_model)."""
        hidden = self.linear1(x)
        hidden = nn.functional.gelu(hidden) if self.activation == "gelu" else hidden.relu()
        return self.linear2(self.dropout(hidden))

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        bias: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
        past_kv: KeyValue | None = None,
    ) -> torch.Tensor:
        """x (batch, n, d_model) -> (batch, n, d_model).

        mask: bool, True = may attend, (n, n_k), (batch, n, n_k) or (batch, 1|n_heads, n, n_k).
        bias: float added to the scores, broadcastable to (batch, n_heads, n, n_k) (ALiBi).
        positions: (n,) positions for rotary blocks (default n_past .. n_past + n - 1).
        past_kv: cached (keys, values), each (batch, n_kv_heads, n_past, d_head), put before x's.
        """
        require_float_tensor("x", x)
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(
                f"x must have shape (batch, n, d_model={self.d_model}), got {tuple(x.shape)} "
                f"(width {x.shape[-1] if x.dim() else 'none'}, expected {self.d_model})"
            )
        require_finite("x", x)  # once per block, not again on its queries, keys and values
        sublayers = []
        if self.use_attention:
            sublayers.append(
                (
                    "attention",
                    lambda h: self.dropout1(
                        self.attend(h, mask, bias=bias, positions=positions, past_kv=past_kv)
                    ),
                    self.norm1,
                )
            )
        if self.use_feed_forward:
            sublayers.append(("feed_forward", lambda h: self.dropout2(self.feed(h)), self.norm2))
        self.last_writes = {}
        for name, sublayer, norm in sublayers:
            if self.norm_first:
                write = sublayer(norm(x))
                self.last_writes[name] = write.detach()
                x = x + write if self.use_residual else write
            else:
                update = sublayer(x)
                x = norm(x + update if self.use_residual else update)
        return x

    @classmethod
    def from_torch(
        cls, layer: nn.TransformerEncoderLayer, causal: bool = False
    ) -> TransformerBlock:
        """A block with the weights of a torch.nn.TransformerEncoderLayer (batch_first=True)."""
        if not isinstance(layer, nn.TransformerEncoderLayer):
            raise TypeError(
                f"layer must be a torch.nn.TransformerEncoderLayer, got {type(layer).__name__}"
            )
        attention = layer.self_attn
        if not attention.batch_first:
            raise ValueError("from_torch needs a layer built with batch_first=True")
        if attention.in_proj_weight is None or attention.in_proj_bias is None:
            raise ValueError("from_torch needs a layer with biases and one d_model for q, k, v")
        if layer.linear1.bias is None or layer.norm1.bias is None:
            raise ValueError("from_torch needs a layer with biases (bias=True)")
        kind = getattr(layer, "activation_relu_or_gelu", 0)
        if kind not in (1, 2):
            raise ValueError("from_torch copies layers whose activation is ReLU or GELU only")
        block = cls(
            attention.embed_dim,
            attention.num_heads,
            layer.linear1.out_features,
            norm_first=layer.norm_first,
            activation="relu" if kind == 1 else "gelu",
            dropout=layer.dropout.p,
            causal=causal,
            layer_norm_eps=layer.norm1.eps,
        ).to(device=attention.in_proj_weight.device, dtype=attention.in_proj_weight.dtype)
        with torch.no_grad():
            weights = attention.in_proj_weight.chunk(3)
            biases = attention.in_proj_bias.chunk(3)
            for target, weight, b in zip(
                (block.query, block.key, block.value), weights, biases, strict=True
            ):
                target.weight.copy_(weight)
                target.bias.copy_(b)
            pairs = (
                (block.out_proj, attention.out_proj),
                (block.linear1, layer.linear1),
                (block.linear2, layer.linear2),
                (block.norm1, layer.norm1),
                (block.norm2, layer.norm2),
            )
            for mine, theirs in pairs:
                mine.weight.copy_(theirs.weight)
                mine.bias.copy_(theirs.bias)
        block.train(layer.training)
        return block


class TokenTransformer(nn.Module):
    """Tokens (batch, n) -> logits (batch, n, n_classes) through n_layers TransformerBlocks.

    ``positions`` is one of POSITIONS: "none"; "learned" (a table of max_len rows, added);
    "sinusoidal" (Vaswani et al.'s fixed table, added); "rope" (queries and keys rotated in every
    block); "alibi" (a distance penalty on every block's scores).
    """

    def __init__(
        self,
        vocab_size: int,
        n_classes: int,
        *,
        d_model: int = 32,
        n_heads: int = 2,
        d_ff: int | None = None,
        n_layers: int = 2,
        positions: str = "learned",
        max_len: int = 64,
        causal: bool = False,
        norm_first: bool = True,
        **block_options: bool,
    ) -> None:
        super().__init__()
        for name, value in (
            ("vocab_size", vocab_size),
            ("n_classes", n_classes),
            ("d_model", d_model),
            ("n_heads", n_heads),
            ("n_layers", n_layers),
            ("max_len", max_len),
        ):
            require_positive_int(name, value)
        if positions not in POSITIONS:
            raise ValueError(f"positions must be one of {POSITIONS}, got {positions!r}")
        d_ff = 4 * d_model if d_ff is None else require_positive_int("d_ff", d_ff)
        self.vocab_size, self.max_len, self.positions = vocab_size, max_len, positions
        self.n_heads, self.d_model = n_heads, d_model
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.position_table = nn.Embedding(max_len, d_model) if positions == "learned" else None
        self.blocks = nn.ModuleList(
            TransformerBlock(
                d_model,
                n_heads,
                d_ff,
                norm_first=norm_first,
                causal=causal,
                rotary=positions == "rope",
                **block_options,
            )
            for _ in range(n_layers)
        )
        final_norm = norm_first and block_options.get("layer_norm", True)
        self.final_norm = nn.LayerNorm(d_model) if final_norm else nn.Identity()
        self.head = nn.Linear(d_model, n_classes)
        self.last_stream: list[torch.Tensor] = []

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token (plus added position) embeddings (batch, n, d_model) of tokens (batch, n)."""
        require_token_ids("tokens", tokens, self.vocab_size)
        n = tokens.shape[1]
        x = self.embedding(tokens)
        if self.position_table is not None:
            if n > self.max_len:
                raise ValueError(
                    f"a learned table has {self.max_len} positions, got a sequence of {n}"
                )
            x = x + self.position_table(torch.arange(n, device=tokens.device))
        elif self.positions == "sinusoidal":
            x = x + sinusoidal_positions(n, self.d_model, device=tokens.device, dtype=x.dtype)
        return x

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits (batch, n, n_classes) for tokens (batch, n); last_stream keeps each block's input."""
        x = self.embed(tokens)
        n = tokens.shape[1]
        bias = None
        if self.positions == "alibi":
            bias = alibi_bias(self.n_heads, n, n, device=x.device, dtype=x.dtype)
        self.last_stream = [x.detach()]
        for block in self.blocks:
            x = block(x, bias=bias)
            self.last_stream.append(x.detach())
        return self.head(self.final_norm(x))
