"""Greedy baseline (docs/htps.md, section 6; the original's `backward_greedy`): every step expands ALL open
goals and commits to one tactic each: the closing one if any, else the highest-prior valid tactic that closes
no cycle.

With `n_samples 1` and greedy decoding this is the original's greedy prover. The proof fails when a
goal has no usable tactic (error, or every tactic closes a cycle) or grows past `greedy_max_depth`.
Identical open goals are merged, so a subgoal shared by two branches is proved once.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from hyperprover.envs.base import Goal, TacticResult
from hyperprover.search.config import SearchConfig
from hyperprover.search.expander import Expansion
from hyperprover.search.filtering import build_node
from hyperprover.search.graph import Node
from hyperprover.search.samples import Tokenizer
from hyperprover.search.skeleton import GraphSearch


class Greedy(GraphSearch):
    def __init__(self, goal: Goal, cfg: SearchConfig, label: str = "", tokenizer: Tokenizer | None = None,
                 rng: random.Random | None = None) -> None:
        super().__init__(goal, cfg, label, tokenizer, rng)
        self.depth: dict[str, int] = {goal.key: 0}
        self.open: dict[str, None] = {goal.key: None}
        self.failure = ""

    def _choose(self, budget: int) -> list[Goal]:
        return [self.graph.goals[k] for k in list(self.open)[:budget]]

    def _reaches(self, start: Sequence[str], target: str) -> bool:
        """Does following the committed tactics from `start` lead back to `target`?"""
        seen: set[str] = set()
        stack = list(start)
        nodes = self.graph.nodes
        while stack:
            k = stack.pop()
            if k == target:
                return True
            if k in seen:
                continue
            seen.add(k)
            n = nodes.get(k)
            if n is not None:
                for t, cs in enumerate(n.children):
                    if not n.killed[t]:
                        stack.extend(cs)
        return False

    def _absorb(self, goals: list[Goal], expansions: Sequence[Expansion],
                results: Sequence[Sequence[TacticResult]]) -> str:
        g = self.graph
        for goal, e, r in zip(goals, expansions, results):
            self.open.pop(goal.key, None)
            full = build_node(goal, e, r, self.cfg)
            node = self._commit(full)
            g.add_nodes([node])
            if node.error is not None:
                self.failure = f"{goal.key}: {node.error}"
                break
            d = self.depth[goal.key] + 1
            for c in node.children[0] if node.tactics else ():
                if c not in g.nodes:
                    self.depth[c] = min(self.depth.get(c, d), d)
                    self.open[c] = None
            if d > self.cfg.greedy_max_depth and node.children and node.children[0]:
                self.failure = f"depth {d} exceeds greedy_max_depth {self.cfg.greedy_max_depth}"
                break
        return "failed" if self.failure else ""

    def _commit(self, full: Node) -> Node:
        """A node with only the chosen tactic (an error node if none can be chosen)."""
        if full.error is not None:
            return full
        for t in range(len(full.tactics)):
            if full.fake[t]:
                continue
            if full.is_solved_leaf or not self._reaches(full.children[t], full.key):
                return Node(full.goal, [full.tactics[t]], [full.child_goals[t]], [full.log_priors[t]], [1.0],
                            full.critic, durations=[full.durations[t]], is_solved_leaf=full.is_solved_leaf)
        return Node(full.goal, (), (), (), (), 0.0, error="every tactic closes a cycle")
