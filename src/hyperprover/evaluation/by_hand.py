"""Apply tactics to a goal by hand: the person-driven mode of `hyperprover prove --tactics FILE`.

Each tactic goes to the first open goal (depth first, as a proof is read); errors leave the goal open.
When no goal is left open, the proof tree is assembled and re-checked from scratch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO

from hyperprover.envs.base import BackwardEnv, Goal, ProofError, ProofNode


@dataclass
class HandSession:
    env: BackwardEnv
    root: Goal
    open_goals: list[Goal] = field(default_factory=list)
    applied: dict[str, tuple[str, tuple[Goal, ...]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.open_goals = [self.root]

    def step(self, tactic: str) -> tuple[Goal, str | None, tuple[Goal, ...]]:
        """Apply `tactic` to the first open goal: (goal, error or None, new subgoals)."""
        goal = self.open_goals[0]
        result = self.env.apply(goal, tactic)
        if result.error is not None:
            return goal, str(result.error), ()
        self.open_goals.pop(0)
        self.applied[goal.key] = (tactic, result.children)
        # a subgoal proved earlier in this session needs no second proof
        new = tuple(c for c in result.children if c.key not in self.applied)
        self.open_goals[:0] = list(new)
        return goal, None, result.children

    def proof(self) -> ProofNode:
        def build(goal: Goal, seen: frozenset[str]) -> ProofNode:
            if goal.key in seen:
                raise ProofError(f"the tactics applied form a cycle at {self.env.goal_text(goal)}")
            tactic, children = self.applied[goal.key]
            return ProofNode(goal, tactic, tuple(build(c, seen | {goal.key}) for c in children))

        return build(self.root, frozenset())


def print_proof(env: BackwardEnv, proof: ProofNode, out: TextIO, indent: int = 0) -> None:
    """A proof as an indented tree: each goal, then the tactic applied to it, then its subgoals."""
    pad = "  " * indent
    out.write(f"{pad}{env.goal_text(proof.goal)}\n{pad}  by {proof.tactic}\n")
    for child in proof.children:
        print_proof(env, child, out, indent + 2)


def run_by_hand(env: BackwardEnv, root: Goal, tactics: Iterable[str], out: TextIO) -> bool:
    session = HandSession(env, root)
    out.write(f"goal: {env.goal_text(root)}\n")
    for n, line in enumerate(tactics, 1):
        tactic = line.strip()
        if not tactic or tactic.startswith("#"):
            continue
        if not session.open_goals:
            out.write(f"line {n}: ignored, no goal is left open\n")
            continue
        goal, error, children = session.step(tactic)
        if error is not None:
            out.write(f"line {n}: error: {error}\n")
        elif not children:
            out.write(f"line {n}: closes {env.goal_text(goal)}\n")
        else:
            out.write(f"line {n}: {len(children)} subgoal(s)\n")
            for c in children:
                out.write(f"    {env.goal_text(c)}\n")
    if session.open_goals:
        out.write(f"{len(session.open_goals)} goal(s) open; the first is {env.goal_text(session.open_goals[0])}\n")
        return False
    proof = session.proof()
    env.check_proof(proof)
    out.write(f"proved ({proof.size()} steps, depth {proof.depth()}); the proof re-checks:\n")
    print_proof(env, proof, out)
    return True
