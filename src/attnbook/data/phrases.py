"""Generated text queries about three-digit canvases, for cross-modal (text -> image) attention.

Each canvas of :mod:`attnbook.data.digit_canvas` holds three different digits (left, middle,
right). A query is a short English phrase drawn from a few templates of two kinds:

* ``"what is the left digit"`` (and paraphrases): the answer is the digit's class, 0..9;
* ``"where is the seven"`` (and paraphrases): the answer is ``left``, ``middle`` or ``right``
  (10, 11 or 12); only digits that are on the canvas are asked about.

To answer a
*what* query the text must pick a **place** in the image; to answer a *where* query it must pick
a **content**. Both are done by letting the words attend over the image patches.
"""

from __future__ import annotations

import torch

from attnbook.checks import require_positive_int, require_token_ids
from attnbook.data.digit_canvas import make_digit_canvases
from attnbook.seeding import numpy_rng

__all__ = [
    "ANSWERS",
    "DIGIT_WORDS",
    "KINDS",
    "MAX_LENGTH",
    "VOCAB",
    "decode",
    "encode",
    "make_grounding_data",
    "make_queries",
]

DIGIT_WORDS: tuple[str, ...] = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
)
_WHAT_TEMPLATES: tuple[str, ...] = (
    "what is the {side} digit",
    "name the {side} digit",
    "read the {side} digit",
)
_WHERE_TEMPLATES: tuple[str, ...] = (
    "where is the {digit}",
    "in which slot is the {digit}",
    "find the {digit}",
)
KINDS: tuple[str, ...] = ("what", "where")
ANSWERS: tuple[str, ...] = (*DIGIT_WORDS, "left", "middle", "right")
_WORDS = sorted(
    {w for t in _WHAT_TEMPLATES + _WHERE_TEMPLATES for w in t.split() if "{" not in w}
    | set(DIGIT_WORDS)
    | {"left", "middle", "right"}
)
VOCAB: tuple[str, ...] = ("<pad>", *_WORDS)
_INDEX = {word: i for i, word in enumerate(VOCAB)}
MAX_LENGTH = 6


def encode(phrase: str, length: int = MAX_LENGTH) -> torch.Tensor:
    """Token ids (length,) int64 of a phrase, right-padded with 0 (``<pad>``)."""
    if not isinstance(phrase, str):
        raise TypeError(f"phrase must be a str, got {type(phrase).__name__}")
    require_positive_int("length", length)
    words = phrase.split()
    unknown = [w for w in words if w not in _INDEX]
    if unknown:
        raise ValueError(f"phrase {phrase!r} has words outside the vocabulary: {unknown}")
    if not words or len(words) > length:
        raise ValueError(f"phrase {phrase!r} must have 1..{length} words, got {len(words)}")
    ids = [_INDEX[w] for w in words] + [0] * (length - len(words))
    return torch.tensor(ids, dtype=torch.int64)


def decode(tokens: torch.Tensor) -> str:
    """The phrase of token ids (L,) int64, padding dropped."""
    require_token_ids("tokens", tokens, len(VOCAB), dims=1)
    return " ".join(VOCAB[i] for i in tokens.tolist() if i != 0)


def make_queries(
    slots: torch.Tensor, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
    """One query per canvas with slot labels (N, 3): tokens (N, L), answers (N,), kinds (N,), phrases.

    Half the queries (at random) are *what* queries, half *where* queries. Answers index
    :data:`ANSWERS`; kinds index :data:`KINDS`.
    """
    if not isinstance(slots, torch.Tensor) or slots.dtype != torch.int64:
        raise TypeError("slots must be an int64 tensor (N, 3)")
    if slots.dim() != 2 or slots.shape[1] != 3:
        raise ValueError(f"slots must have shape (N, 3), got {tuple(slots.shape)}")
    if bool((slots < 0).any()) or bool((slots > 9).any()):
        raise ValueError("slot labels must lie in 0..9")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    rng = numpy_rng([seed, 8])
    phrases, answers, kinds = [], [], []
    for row in slots.tolist():
        side = int(rng.integers(3))
        if rng.random() < 0.5:
            template = _WHERE_TEMPLATES[int(rng.integers(len(_WHERE_TEMPLATES)))]
            phrases.append(template.format(digit=DIGIT_WORDS[row[side]]))
            answers.append(10 + side)
            kinds.append(1)
        else:
            template = _WHAT_TEMPLATES[int(rng.integers(len(_WHAT_TEMPLATES)))]
            phrases.append(template.format(side=("left", "middle", "right")[side]))
            answers.append(row[side])
            kinds.append(0)
    tokens = (
        torch.stack([encode(p) for p in phrases])
        if phrases
        else torch.zeros(0, MAX_LENGTH, dtype=torch.int64)
    )
    return (
        tokens,
        torch.tensor(answers, dtype=torch.int64),
        torch.tensor(kinds, dtype=torch.int64),
        phrases,
    )


def make_grounding_data(
    split: str, n: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Canvases (N, 8, 24) with one query each: images, tokens (N, L), answers (N,), kinds (N,)."""
    images, slots = make_digit_canvases(split, n, seed)
    tokens, answers, kinds, _ = make_queries(slots, seed=seed + (1 if split == "train" else 2))
    return images, tokens, answers, kinds
