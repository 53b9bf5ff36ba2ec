"""The tiny system's env: a goal is a natural number n, proved by bringing it down to 0.

`zero` closes 0; `dec` turns n > 0 into n - 1; `half` turns an even n > 0 into n / 2; `split` turns n >= 2 into
its two halves, both to prove (an AND node)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hyperprover.envs.base import (
    GoalParseError,
    ProofError,
    ProofNode,
    TacticError,
    TacticErrorKind,
    TacticResult,
    Theorem,
    env_config,
)
from tiny_system.system import TinyConfig

TACTICS = ("zero", "dec", "half", "split")


@dataclass(frozen=True)
class Number:
    n: int

    @property
    def key(self) -> str:
        return str(self.n)


def digits(n: int) -> list[str]:
    return list(str(n))


def canonical_proof(n: int) -> list[tuple[int, str]]:
    out = []
    while n:
        out.append((n, "half" if n % 2 == 0 else "dec"))
        n = n // 2 if n % 2 == 0 else n - 1
    return [*out, (0, "zero")]


def split_numbers(split: str, max_n: int) -> list[int]:
    if split == "test":
        return list(range(max_n + 1, max_n + 9))
    if split not in ("train", "valid"):
        raise KeyError(f"tiny: no split {split!r} (train, valid, test)")
    return [n for n in range(1, max_n + 1) if (n % 8 == 0) == (split == "valid")]


def children(n: int, tactic: str) -> tuple[int, ...] | str:
    if tactic == "zero":
        return () if n == 0 else "zero closes 0 only"
    if tactic == "dec":
        return (n - 1,) if n > 0 else "0 has no predecessor"
    if tactic == "half":
        return (n // 2,) if n > 0 and n % 2 == 0 else "half needs an even number above 0"
    if tactic == "split":
        return (n // 2, n - n // 2) if n >= 2 else "split needs 2 or more"
    return f"unknown tactic {tactic!r} (one of {', '.join(TACTICS)})"


class TinyEnv:
    name = "tiny"

    def __init__(self, cfg: TinyConfig) -> None:
        self.cfg = cfg

    def apply(self, goal: Any, tactic: str) -> TacticResult:
        got = children(goal.n, tactic.strip())
        if isinstance(got, str):
            kind = TacticErrorKind.UNKNOWN_RULE if tactic.strip() not in TACTICS else TacticErrorKind.NO_MATCH
            return TacticResult(tactic, error=TacticError(kind, got))
        return TacticResult(tactic, tuple(Number(c) for c in got))

    def goal_tokens(self, goal: Any) -> list[str]:
        return digits(goal.n)

    def tactic_tokens(self, tactic: str) -> list[str]:
        return tactic.split()

    def tactic_from_tokens(self, tokens: Sequence[str]) -> str:
        return " ".join(tokens)

    def parse_goal(self, text: str) -> Number:
        if not text.strip().isdigit():
            raise GoalParseError(f"tiny: {text!r} is not a natural number")
        return Number(int(text))

    def goal_text(self, goal: Any) -> str:
        return str(goal.n)

    def theorems(self, split: str) -> list[Theorem]:
        return [Theorem(f"tiny:{n}", Number(n), split) for n in split_numbers(split, self.cfg.max_n)]

    def check_proof(self, proof: ProofNode) -> None:
        r = self.apply(proof.goal, proof.tactic)
        if not r.ok or [c.key for c in r.children] != [c.goal.key for c in proof.children]:
            raise ProofError(f"{proof.tactic!r} on {proof.goal.key}: {r.error or 'other subgoals'}")
        for child in proof.children:
            self.check_proof(child)

    def tactic_prefixes(self, goal: Any) -> list[tuple[tuple[str, ...], bool]]:
        return [((t,), True) for t in TACTICS]


def make_env(**overrides: Any) -> TinyEnv:
    return TinyEnv(env_config("tiny", TinyConfig(), overrides))
