"""The descriptor of the tiny system: reach 0 from a natural number."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hyperprover.config import opt
from hyperprover.envs.systems import Example, Records, System, TaskSpec


@dataclass
class TinyConfig:
    max_n: int = opt(40, "the theorems are the numbers 1..max_n (valid: every 8th) and test the 8 above", min=8)


def examples(numbers: list[int]) -> list[Example]:
    """(goal, tactic) of the canonical proofs: `zero` on 0, `half` on an even number, `dec` on an odd one."""
    from tiny_system.env import canonical_proof, digits

    return [(digits(n), [tactic]) for top in numbers for n, tactic in canonical_proof(top)]


def records(name: str, cfg: Any) -> Records:
    from tiny_system.env import split_numbers

    tiny = cfg.tiny

    def train(seed: int) -> Iterator[Example]:
        data, rng = examples(split_numbers("train", tiny.max_n)), random.Random(seed)
        while True:
            yield data[rng.randrange(len(data))]

    return Records("seq2seq", train, lambda split, n: examples(split_numbers(split, tiny.max_n))[:n],
                   lambda: [*"0123456789", "zero", "dec", "half", "split"])


SYSTEM = System(
    name="tiny",
    env="tiny_system.env:make_env",
    options=TinyConfig,
    options_help="the tiny test system",
    tasks=(TaskSpec(r"tiny_x2y_goal--tactic_seq2seq", "tiny_x2y_goal--tactic_seq2seq", "tiny_system.system:records"),),
)
