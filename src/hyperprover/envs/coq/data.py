"""Supervised data of the Coq env: (goal tokens, tactic tokens) pairs of the replayed library proofs, for the
task `coq_x2y_goal--tactic_seq2seq`. Goals are what the model reads in a search (the shown printing,
`Sequent.tokens`), tactics as written in the library, tokenized as the env tokenizes them."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from functools import cache
from typing import Any

from hyperprover.envs.coq.config import AUTOMATION_TACTICS, RECONSTRUCTION_WORDS, CoqConfig
from hyperprover.envs.coq.goals import TOKEN
from hyperprover.envs.coq.library import LemmaRef, split_lemmas, steps_of

Pair = tuple[list[str], list[str]]


@cache
def _pairs(fields: tuple[Any, ...], split: str) -> tuple[Pair, ...]:
    by_folder: dict[str, list[LemmaRef]] = {}
    for folder, lemma in split_lemmas(CoqConfig(*fields), split):
        by_folder.setdefault(folder, []).append(lemma)
    return tuple((goal.tokens(), TOKEN.findall(tactic)) for folder, lemmas in by_folder.items()
                 for goal, tactic in steps_of(folder, tuple(lemmas)))


def pairs(split: str, cfg: CoqConfig) -> tuple[Pair, ...]:
    """The (goal, tactic) steps of the lemmas of `split` (split_lemmas), library by library in file order."""
    return _pairs(dataclasses.astuple(cfg), split)  # a config is not hashable; its fields are


def seq2seq_examples(split: str, seed: int, cfg: CoqConfig) -> Iterator[Pair]:
    """Infinite, reproducible stream of the split's steps in a seeded random order (reshuffled each pass)."""
    data = list(pairs(split, cfg))
    if not data:
        raise ValueError(f"coq: split {split!r} has no proof steps")
    rng = random.Random(seed)
    while True:
        rng.shuffle(data)
        yield from data


def split_examples(split: str, n: int, cfg: CoqConfig) -> list[Pair]:
    """The first `n` steps of a split, in file order (fixed, for evaluation)."""
    return list(pairs(split, cfg)[:n])


def vocabulary(cfg: CoqConfig) -> list[str]:
    """Every token of the goals and tactics of the train, valid and test splits (identifiers included: the
    libraries' own names); not those of the cross libraries, which training never sees."""
    # the automation tactics and the words of hammer's reconstructions too (an online run's samples hold them):
    # human proofs seldom use them, and a model can only score words it has
    words: dict[str, None] = dict.fromkeys(["<HYP>", ":", ":=", "|-", *AUTOMATION_TACTICS, *RECONSTRUCTION_WORDS])
    for split in ("train", "valid", "test"):
        for x, y in pairs(split, cfg):
            words.update(dict.fromkeys(x))
            words.update(dict.fromkeys(y))
    return list(words)


__all__ = ["pairs", "seq2seq_examples", "split_examples", "vocabulary"]
