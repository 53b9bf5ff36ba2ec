"""Supervised data of the Coq env: (goal tokens, tactic tokens) pairs of the replayed library proofs, for the
task `coq_x2y_goal--tactic_seq2seq`. Goals are what the model reads in a search (the shown printing,
`Sequent.tokens`), tactics as written in the library, tokenized as the env tokenizes them."""

from __future__ import annotations

import random
from collections.abc import Iterator
from functools import cache

from hyperprover.envs.coq.config import AUTOMATION_TACTICS, CoqConfig
from hyperprover.envs.coq.goals import TOKEN
from hyperprover.envs.coq.library import ensure_extraction, load_splits, steps_of

Pair = tuple[list[str], list[str]]


@cache
def _pairs(root: str, dirs: tuple[str, ...], data_dir: str, seed: int, n_valid: int, n_test: int,
           split: str) -> tuple[Pair, ...]:
    folder = str(ensure_extraction(root, dirs, data_dir))
    lemmas = load_splits(folder, seed, n_valid, n_test)[split]
    return tuple((goal.tokens(), TOKEN.findall(tactic)) for goal, tactic in steps_of(folder, lemmas))


def pairs(split: str, cfg: CoqConfig) -> tuple[Pair, ...]:
    return _pairs(cfg.library_root, cfg.dirs(), cfg.data_dir, cfg.split_seed, cfg.n_valid, cfg.n_test, split)


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
    """Every token of the goals and tactics of all splits (identifiers included: the library's own names)."""
    # the automation tactics too: human proofs seldom use them, and a model can only score words it has
    words: dict[str, None] = dict.fromkeys(["<HYP>", ":", ":=", "|-", *AUTOMATION_TACTICS])
    for split in ("train", "valid", "test"):
        for x, y in pairs(split, cfg):
            words.update(dict.fromkeys(x))
            words.update(dict.fromkeys(y))
    return list(words)


__all__ = ["pairs", "seq2seq_examples", "split_examples", "vocabulary"]
