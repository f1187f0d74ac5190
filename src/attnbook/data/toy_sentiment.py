"""A generated 'sentiment' task whose relevant words are known, for testing explanations.

Token ids: 0 is padding, 1 is reserved for a class token, ``2 .. 2+n_neutral-1`` are neutral
words, then ``n_polar`` positive and ``n_polar`` negative words. A sequence has ``length`` words:
one or three polar words at random positions, the rest neutral. Its label is 1 when most polar
words are positive, else 0. Because we generated it, we know exactly which positions carry the
label: a good explanation should point at them.
"""

from __future__ import annotations

import numpy as np
import torch

from attnbook.checks import require_positive_int
from attnbook.seeding import numpy_rng

__all__ = ["CLS", "PAD", "SentimentVocab", "make_toy_sentiment"]

PAD = 0
CLS = 1


class SentimentVocab:
    """Token-id ranges of the toy vocabulary: neutral, positive and negative words."""

    def __init__(self, n_neutral: int = 20, n_polar: int = 4) -> None:
        self.n_neutral = require_positive_int("n_neutral", n_neutral)
        self.n_polar = require_positive_int("n_polar", n_polar)
        self.neutral = range(2, 2 + n_neutral)
        self.positive = range(2 + n_neutral, 2 + n_neutral + n_polar)
        self.negative = range(2 + n_neutral + n_polar, 2 + n_neutral + 2 * n_polar)

    @property
    def size(self) -> int:
        """Number of token ids, padding and class token included."""
        return 2 + self.n_neutral + 2 * self.n_polar


def make_toy_sentiment(
    n: int, length: int = 12, *, seed: int = 0, vocab: SentimentVocab | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Tokens (n, length) int64, labels (n,) int64 and relevant positions (n, length) bool."""
    require_positive_int("n", n)
    require_positive_int("length", length)
    if length < 3:
        raise ValueError(f"length must be >= 3 to hold three polar words, got {length}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    vocab = SentimentVocab() if vocab is None else vocab
    if not isinstance(vocab, SentimentVocab):
        raise TypeError(f"vocab must be a SentimentVocab, got {type(vocab).__name__}")
    rng = numpy_rng([seed, 9])
    tokens = rng.integers(vocab.neutral.start, vocab.neutral.stop, size=(n, length))
    relevant = np.zeros((n, length), dtype=bool)
    labels = rng.integers(0, 2, size=n)
    for i in range(n):
        count = 1 if rng.random() < 0.5 else 3
        majority = count // 2 + 1
        n_positive = majority if labels[i] == 1 else count - majority
        positions = rng.choice(length, size=count, replace=False)
        polarity = np.array([1] * n_positive + [0] * (count - n_positive))
        rng.shuffle(polarity)
        for position, positive in zip(positions, polarity, strict=True):
            source = vocab.positive if positive else vocab.negative
            tokens[i, position] = rng.integers(source.start, source.stop)
        relevant[i, positions] = True
    return (
        torch.from_numpy(tokens.astype(np.int64)),
        torch.from_numpy(labels.astype(np.int64)),
        torch.from_numpy(relevant),
    )
