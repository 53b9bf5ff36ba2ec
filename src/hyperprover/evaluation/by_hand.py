"""Apply tactics to a goal by hand: the person-driven mode of `hyperprover prove --tactics FILE`.

Each tactic goes to the first open goal (depth first, as a proof is read); errors leave the goal open.
When no goal is left open, the proof tree is assembled and re-checked from scratch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO

from hyperprover.envs.base import BackwardEnv, Goal, ProofError, ProofNode
from hyperprover.search.prover import format_proof


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
        """The proof tree of the tactics applied, built depth first without recursion: a proof typed or
        pasted by hand may be a chain of thousands of steps."""
        built: dict[str, ProofNode] = {}
        path: set[str] = set()  # keys of the goals from the root to the one being built
        stack: list[tuple[Goal, bool]] = [(self.root, False)]
        while stack:
            goal, kids_built = stack.pop()
            tactic, children = self.applied[goal.key]
            if kids_built:
                path.discard(goal.key)
                built[goal.key] = ProofNode(goal, tactic, tuple(built[c.key] for c in children))
            elif goal.key in path:
                raise ProofError(f"the tactics applied form a cycle at {self.env.goal_text(goal)}")
            elif goal.key not in built:
                path.add(goal.key)
                stack.append((goal, True))
                stack.extend((c, False) for c in reversed(children))
        return built[self.root.key]


def proof_stats(proof: ProofNode) -> tuple[int, int]:
    """(steps, depth) of a proof, without recursion."""
    size, depth = 0, 0
    stack = [(proof, 1)]
    while stack:
        node, level = stack.pop()
        size, depth = size + 1, max(depth, level)
        stack.extend((c, level + 1) for c in node.children)
    return size, depth


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
    size, depth = proof_stats(proof)
    out.write(f"proved ({size} steps, depth {depth}); the proof re-checks:\n")
    out.write(format_proof(proof, env.goal_text) + "\n")
    return True
