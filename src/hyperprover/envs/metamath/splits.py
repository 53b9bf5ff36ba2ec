"""Train / valid / test splits of a database's proved theorems, and the database-order mask.

Valid and test are drawn with a fixed seed among `$p` statements with complete proofs (axioms and
definitions are `$a`); train is every other proved theorem. Any theorem may use only assertions
that come before it in the database (the decoder masks later labels).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hyperprover.envs.metamath.database import Assertion, Database

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Splits:
    train: tuple[str, ...]
    valid: tuple[str, ...]
    test: tuple[str, ...]

    def get(self, split: str) -> tuple[str, ...]:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        labels: tuple[str, ...] = getattr(self, split)
        return labels


def is_complete(a: Assertion) -> bool:
    p = a.proof
    return p is not None and not p.error and "?" not in p.letters and "?" not in p.labels


def make_splits(db: Database, seed: int = 42, n_valid: int = 1000, n_test: int = 1000) -> Splits:
    """Valid/test drawn from the proved theorems with `random.Random(seed)`; each split in database order.
    A database with too few theorems for the requested sizes gives 10% of them to each."""
    proved = [a.label for a in db.assertions.values() if a.kind == "p" and is_complete(a)]
    if n_valid + n_test > len(proved) // 2:
        n_valid = n_test = len(proved) // 10
    drawn = list(proved)
    random.Random(seed).shuffle(drawn)
    valid, test = set(drawn[:n_valid]), set(drawn[n_valid : n_valid + n_test])
    return Splits(
        train=tuple(x for x in proved if x not in valid and x not in test),
        valid=tuple(x for x in proved if x in valid),
        test=tuple(x for x in proved if x in test),
    )

