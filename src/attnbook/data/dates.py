"""A generated translation task: human-written dates -> ISO 8601 `YYYY-MM-DD`, character level.

Every source string is one of several unambiguous English formats ("3 March 2021",
"March 3, 2021", "03.03.2021", "3rd of Mar 2021", ...); the target is always the 10 characters
of the ISO date. Train and test are split by *date*: no calendar day of the test set appears in
training, in any format.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Callable

import torch

from attnbook.checks import require_positive_int
from attnbook.seeding import numpy_rng

__all__ = [
    "FORMATS",
    "SOURCE_ALPHABET",
    "TARGET_ALPHABET",
    "CharVocab",
    "DatePairs",
    "date_field_spans",
    "encode_pairs",
    "make_date_splits",
    "make_date_train_val_test",
    "render_date",
]

MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def _ordinal(day: int) -> str:
    """1 -> '1st', 2 -> '2nd', 11 -> '11th', 23 -> '23rd'."""
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


FORMATS: dict[str, Callable[[dt.date], str]] = {
    "d Month yyyy": lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    "Month d, yyyy": lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    "Mon d yyyy": lambda d: f"{MONTHS[d.month - 1][:3]} {d.day} {d.year}",
    "dd.mm.yyyy": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",
    "yyyy/m/d": lambda d: f"{d.year}/{d.month}/{d.day}",
    "dth of Mon yyyy": lambda d: f"{_ordinal(d.day)} of {MONTHS[d.month - 1][:3]} {d.year}",
    "MONTH d yyyy": lambda d: f"{MONTHS[d.month - 1].upper()} {d.day} {d.year}",
    "dd mon yyyy": lambda d: f"{d.day:02d} {MONTHS[d.month - 1][:3].lower()} {d.year}",
}
"""Named source formats: each maps a date to one human-readable string (all unambiguous)."""

SOURCE_ALPHABET = string.ascii_letters + string.digits + " ,./-"
TARGET_ALPHABET = string.digits + "-"


def render_date(date: dt.date, fmt: str) -> str:
    """The date written in the named format (a key of FORMATS)."""
    if not isinstance(date, dt.date):
        raise TypeError(f"date must be a datetime.date, got {type(date).__name__}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {sorted(FORMATS)}")
    return FORMATS[fmt](date)


def date_field_spans(source: str) -> dict[str, tuple[int, int]]:
    """Character spans [start, end) of the year, month and day in a source string of FORMATS."""
    if not isinstance(source, str):
        raise TypeError(f"source must be a str, got {type(source).__name__}")
    tokens = [(m.group(), m.start(), m.end()) for m in re.finditer(r"[A-Za-z]+|\d+", source)]
    numbers = [t for t in tokens if t[0].isdigit()]
    names = [t for t in tokens if t[0].isalpha() and len(t[0]) >= 3 and t[0].lower() != "of"]
    years = [t for t in numbers if len(t[0]) == 4]
    if len(years) != 1 or len(names) > 1 or len(numbers) != (2 if names else 3):
        raise ValueError(f"{source!r} is not a date in one of the known formats")
    spans = {"year": years[0][1:]}
    if names:
        spans["month"] = names[0][1:]
        spans["day"] = next(t for t in numbers if len(t[0]) != 4)[1:]
    elif numbers[0] is years[0]:  # yyyy/m/d
        spans["month"], spans["day"] = numbers[1][1:], numbers[2][1:]
    else:  # dd.mm.yyyy
        spans["day"], spans["month"] = numbers[0][1:], numbers[1][1:]
    return spans


class CharVocab:
    """Characters <-> ids; id 0 is padding, ids 1.. are the alphabet's characters in order."""

    def __init__(self, alphabet: str) -> None:
        if not isinstance(alphabet, str) or not alphabet:
            raise ValueError("alphabet must be a non-empty string")
        if len(set(alphabet)) != len(alphabet):
            raise ValueError(f"alphabet has repeated characters: {alphabet!r}")
        self.alphabet = alphabet
        self.index = {char: i + 1 for i, char in enumerate(alphabet)}

    def __len__(self) -> int:
        """Number of ids, padding included."""
        return len(self.alphabet) + 1

    def encode(self, text: str, length: int) -> torch.Tensor:
        """Ids (length,) int64 of text, right-padded with 0."""
        require_positive_int("length", length)
        if len(text) > length:
            raise ValueError(f"text {text!r} has {len(text)} characters, more than length {length}")
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            raise ValueError(f"characters {unknown} are not in the alphabet")
        ids = [self.index[c] for c in text] + [0] * (length - len(text))
        return torch.tensor(ids, dtype=torch.int64)

    def decode(self, ids: torch.Tensor) -> str:
        """Text from ids (L,), padding (0) dropped."""
        if not isinstance(ids, torch.Tensor) or ids.dim() != 1:
            raise ValueError("ids must be a 1-D tensor")
        return "".join(self.alphabet[i - 1] for i in ids.tolist() if 0 < i <= len(self.alphabet))


class DatePairs:
    """Encoded pairs: sources (N, L_src) ids, source lengths (N,), targets (N, 10) ids, raw text."""

    def __init__(
        self,
        sources: torch.Tensor,
        lengths: torch.Tensor,
        targets: torch.Tensor,
        texts: list[tuple[str, str, str]],
    ) -> None:
        self.sources = sources
        self.lengths = lengths
        self.targets = targets
        self.texts = texts  # (source string, target string, format name)

    def __len__(self) -> int:
        """Number of pairs."""
        return len(self.texts)

    def subset(self, start: int, stop: int) -> DatePairs:
        """Pairs start .. stop-1 (tensors (stop-start, ...), padding width kept)."""
        if not (
            isinstance(start, int) and isinstance(stop, int) and 0 <= start < stop <= len(self)
        ):
            raise ValueError(f"need 0 <= start < stop <= {len(self)}, got {start}, {stop}")
        return DatePairs(
            self.sources[start:stop],
            self.lengths[start:stop],
            self.targets[start:stop],
            self.texts[start:stop],
        )


def encode_pairs(
    texts: list[tuple[str, str, str]], source_vocab: CharVocab, target_vocab: CharVocab
) -> DatePairs:
    """Encode (source, target, format) strings into a DatePairs of padded id tensors."""
    if not texts:
        raise ValueError("texts is empty")
    source_length = max(len(src) for src, _, _ in texts)
    target_length = max(len(tgt) for _, tgt, _ in texts)
    sources = torch.stack([source_vocab.encode(src, source_length) for src, _, _ in texts])
    targets = torch.stack([target_vocab.encode(tgt, target_length) for _, tgt, _ in texts])
    lengths = torch.tensor([len(src) for src, _, _ in texts], dtype=torch.int64)
    return DatePairs(sources, lengths, targets, texts)


def make_date_splits(
    num_train: int = 8000,
    num_test: int = 1000,
    first_year: int = 1950,
    last_year: int = 2049,
    seed: int = 0,
) -> tuple[DatePairs, DatePairs, CharVocab, CharVocab]:
    """Train and test DatePairs on disjoint calendar days, each day in one random format.

    Returns (train, test, source_vocab, target_vocab).
    """
    require_positive_int("num_train", num_train)
    require_positive_int("num_test", num_test)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if not 1 <= first_year <= last_year <= 9999:
        raise ValueError(
            f"need 1 <= first_year <= last_year <= 9999, got {first_year}, {last_year}"
        )
    start = dt.date(first_year, 1, 1)
    num_days = (dt.date(last_year, 12, 31) - start).days + 1
    if num_train + num_test > num_days:
        raise ValueError(
            f"{num_train} + {num_test} pairs need more distinct days than the {num_days} "
            f"between {first_year} and {last_year}"
        )
    rng = numpy_rng(seed)
    offsets = rng.choice(num_days, num_train + num_test, replace=False)
    names = sorted(FORMATS)
    formats = rng.choice(len(names), num_train + num_test)
    texts = []
    for offset, f in zip(offsets.tolist(), formats.tolist(), strict=True):
        date = start + dt.timedelta(days=offset)
        texts.append((render_date(date, names[f]), date.isoformat(), names[f]))
    source_vocab, target_vocab = CharVocab(SOURCE_ALPHABET), CharVocab(TARGET_ALPHABET)
    train = encode_pairs(texts[:num_train], source_vocab, target_vocab)
    test = encode_pairs(texts[num_train:], source_vocab, target_vocab)
    return train, test, source_vocab, target_vocab


def make_date_train_val_test(
    num_train: int = 6000, num_val: int = 1000, num_test: int = 1000, seed: int = 0
) -> tuple[DatePairs, DatePairs, DatePairs, CharVocab, CharVocab]:
    """Train, validation and test DatePairs on pairwise disjoint calendar days (1950-2049).

    The validation split is for everything looked at during training; the test split is for one
    final measurement per model. Returns (train, val, test, source_vocab, target_vocab).
    """
    require_positive_int("num_train", num_train)
    require_positive_int("num_val", num_val)
    train_val, test, source_vocab, target_vocab = make_date_splits(
        num_train + num_val, num_test, seed=seed
    )
    train = train_val.subset(0, num_train)
    val = train_val.subset(num_train, num_train + num_val)
    return train, val, test, source_vocab, target_vocab
