"""Test-only helpers for the search: a toy backward env given by a table of rules, and a scripted
expander. Goals are names; a rule maps (goal, tactic) to its subgoals, or to an error message."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hyperprover.envs.base import (
    Goal,
    GoalParseError,
    ProofError,
    ProofNode,
    TacticError,
    TacticErrorKind,
    TacticResult,
    Theorem,
)
from hyperprover.search.expander import DecodingConfig, Expansion

# goal -> tactic -> subgoals (a tuple) or an error message (a str); Any keeps literal tables easy to type
Rules = Mapping[str, Any]


@dataclass(frozen=True)
class ToyGoal:
    key: str


class ToyEnv:
    """`rules[goal][tactic]` is a tuple of subgoal names (empty: closes) or an error message (str).
    Tactics starting with '?' are malformed; tactics the table does not list do not apply."""

    name = "toy"

    def __init__(self, rules: Rules, roots: Sequence[str] = (), reject_proofs_of: Sequence[str] = ()) -> None:
        self.rules = rules
        self.roots = list(roots)
        self.reject = set(reject_proofs_of)  # a broken checker, to test that re-checks are honoured
        self.applied = 0

    def apply(self, goal: Goal, tactic: str) -> TacticResult:
        self.applied += 1
        if tactic.startswith("?"):
            return TacticResult(tactic, error=TacticError(TacticErrorKind.MALFORMED, "cannot parse"))
        out = self.rules.get(goal.key, {}).get(tactic)
        if out is None:
            return TacticResult(tactic, error=TacticError(TacticErrorKind.NO_MATCH, f"{tactic} on {goal.key}"))
        if isinstance(out, str):
            return TacticResult(tactic, error=TacticError(TacticErrorKind.INVALID_CHILD, out))
        return TacticResult(tactic, tuple(ToyGoal(c) for c in out))

    def goal_tokens(self, goal: Goal) -> list[str]:
        return ["<g>", *goal.key.split()]

    def tactic_tokens(self, tactic: str) -> list[str]:
        return ["<t>", *tactic.split()]

    def tactic_from_tokens(self, tokens: Sequence[str]) -> str:
        return " ".join(t for t in tokens if t != "<t>")

    def parse_goal(self, text: str) -> ToyGoal:
        if not text.strip():
            raise GoalParseError("empty goal")
        return ToyGoal(text.strip())

    def goal_text(self, goal: Goal) -> str:
        return goal.key

    def theorems(self, split: str) -> list[Theorem]:
        return [Theorem(f"{split}:{i}", ToyGoal(r), split) for i, r in enumerate(self.roots)]

    def check_proof(self, proof: ProofNode) -> None:
        if proof.goal.key in self.reject:
            raise ProofError(f"rejected {proof.goal.key}")
        self._check(proof)

    def _check(self, proof: ProofNode) -> None:
        r = self.apply(proof.goal, proof.tactic)
        if r.error is not None:
            raise ProofError(f"{proof.tactic} on {proof.goal.key}: {r.error}")
        if tuple(c.key for c in r.children) != tuple(c.goal.key for c in proof.children):
            raise ProofError(f"{proof.tactic} on {proof.goal.key} gives other subgoals")
        for c in proof.children:
            self._check(c)


@dataclass
class ScriptedExpander:
    """`script[goal]` = [(tactic, probability), ...]; the critic comes from `critics` (default 0.5).
    Goals without a script get an error expansion. Every call is recorded in `calls`."""

    script: Mapping[str, Sequence[tuple[str, float]]]
    critics: Mapping[str, float] = field(default_factory=dict)
    default_critic: float = 0.5
    calls: list[list[str]] = field(default_factory=list)

    def expand(self, goals: Sequence[Goal], params: DecodingConfig,
               seeds: Sequence[int] | None = None) -> list[Expansion]:
        self.calls.append([g.key for g in goals])
        out = []
        for g in goals:
            if g.key not in self.script:
                out.append(Expansion(g, (), (), 0.0, error="no script"))
                continue
            tacs = sorted(self.script[g.key], key=lambda x: -x[1])[:params.n_samples]
            out.append(Expansion(g, tuple(t for t, _ in tacs), tuple(math.log(p) for _, p in tacs),
                                 self.critics.get(g.key, self.default_critic)))
        return out


def expander_from_rules(rules: Rules, seed: int = 0, critics: Mapping[str, float] | None = None,
                        ) -> ScriptedExpander:
    """Every tactic of the rules, with random probabilities (summing to < 1), as the model's output."""
    rng = random.Random(seed)
    script: dict[str, list[tuple[str, float]]] = {}
    for g, tacs in rules.items():
        ws = [rng.random() + 0.05 for _ in tacs]
        total = sum(ws) * 1.25
        script[g] = [(t, w / total) for t, w in zip(tacs, ws)]
    return ScriptedExpander(script, critics or {})


def provable(rules: Rules) -> set[str]:
    """Goals with a proof in the rule table (least fixpoint)."""
    proved: set[str] = set()
    changed = True
    while changed:
        changed = False
        for g, tacs in rules.items():
            if g in proved:
                continue
            for out in tacs.values():
                if not isinstance(out, str) and all(c in proved for c in out):
                    proved.add(g)
                    changed = True
                    break
    return proved


SKIPPED = TacticError(TacticErrorKind.SKIPPED, "its search's time was up")


def run_search(search: object, env: ToyEnv, expander: ScriptedExpander, params: DecodingConfig | None = None,
               max_steps: int = 10_000, after_receive: object = None, skip: float = 0.0,
               rng: random.Random | None = None) -> None:
    """Drive one search to the end, in-process (the Prover does the same for many searches). `skip`: the share
    of tactics reported as not tried (SKIPPED), drawn with `rng`, as an env does once a search's time is up."""
    params = params or DecodingConfig(n_samples=64)
    rng = rng or random.Random(0)

    def apply(goal: Goal, tactic: str) -> TacticResult:
        return TacticResult(tactic, error=SKIPPED) if skip and rng.random() < skip else env.apply(goal, tactic)

    for _ in range(max_steps):
        goals = search.to_expand()  # type: ignore[attr-defined]
        if not goals:
            return
        exps = expander.expand(goals, params)
        res = [[apply(e.goal, t) for t in e.tactics] if e.error is None else [] for e in exps]
        search.receive(exps, res)  # type: ignore[attr-defined]
        if after_receive is not None:
            after_receive(search)  # type: ignore[operator]
    raise AssertionError("search did not finish")


# a fixed problem set for the Prover tests; a module-level factory so worker processes can build it
PROBLEMS: dict[str, dict[str, tuple[str, ...] | str]] = {
    "p0": {"split": ("p0 a", "p0 b"), "bad": "no"},
    "p0 a": {"close": ()},
    "p0 b": {"step": ("p0 c",), "loop": ("p0",)},
    "p0 c": {"close": ()},
    "p1": {"step": ("p1 a",)},
    "p1 a": {"oops": "invalid", "step": ("p1 b",)},
    "p1 b": {"close": ()},
    "p2": {"split": ("p2 a", "p2 b")},
    "p2 a": {"close": ()},
    "p2 b": {"dead": "invalid"},
    "p3": {"close": ()},
    "p4": {"step": ("p4 x",), "other": ("p4 y",)},
    "p4 x": {"step": ("p4",)},
    "p4 y": {"split": ("p0 a", "p1 b")},
}
PROBLEM_ROOTS = ["p0", "p1", "p2", "p3", "p4"]
PROVABLE_ROOTS = {"p0", "p1", "p3", "p4"}


def make_problem_env() -> ToyEnv:
    return ToyEnv(PROBLEMS, PROBLEM_ROOTS)
